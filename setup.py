import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

sys.path.insert(0, str(Path(__file__).resolve().parent / "c_stub"))
import build_preload  # noqa: E402


class BuildExt(build_ext):
    """The cffi module (shim._stub, for the host) and the preload builds beside it."""

    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent if self.inplace else Path(self.build_lib)
        build_preload.build_all(root / "shim" / "preload")


# cffi builds shim._stub (c_stub/build_ffi.py); BuildExt the preload library per libc.
setup(cffi_modules=["c_stub/build_ffi.py:ffibuilder"], cmdclass={"build_ext": BuildExt})
