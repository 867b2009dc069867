from setuptools import setup

# cffi builds the preload stub (c_stub/) into the package as shim._stub.
setup(cffi_modules=["c_stub/build_ffi.py:ffibuilder"])
