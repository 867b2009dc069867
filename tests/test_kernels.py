"""The differential programs on other Linux kernels: tools/vm boots each kernel of
ROCKETNET_VM_KERNELS (comma-separated version prefixes or /boot/vmlinuz-* paths;
default 6.1, Debian 12's kernel) in QEMU and runs every tests/ltp/*.c program and
tests/alg/*.c there natively and under the shim; each must be identical.

One kernel's full run takes about 10 minutes under emulation (no usable KVM) on an
idle 2-core machine, over 40 on a loaded one, so the suite runs one kernel and, by default,
the programs whose output differs between kernels and has been compared in the 6.1
and 6.12 guests (ROCKETNET_VM_PROGRAMS, a regex over program names: `.` runs them
all); `tools/vm run` runs every program on 6.1 and 6.12.  The table and the diffs
stay in vm-results/.  When tools/vm's
prerequisites are missing (qemu, busybox, virtme-ng, a kernel image: `tools/vm setup`
installs them) every test here skips with the reason tools/vm gives.

KNOWN lists the differences measured in those kernels that the stack does not model
yet, each with its reason: strict xfails, so a fix turns them red until the entry
goes."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VM = ROOT / "tools" / "vm"
KERNELS = [k for k in os.environ.get("ROCKETNET_VM_KERNELS", "6.1").split(",") if k]
SELECT = os.environ.get("ROCKETNET_VM_PROGRAMS", "^(addrform|errnos|sockopt_sweep|mcast_tcp"
                        "|tcp_oob|unix_oob|alg_kat|alg_splice)$")
PROGRAMS = [p for p in [*sorted(p.stem for p in (ROOT / "tests" / "ltp").glob("*.c")),
                        *sorted(p.stem for p in (ROOT / "tests" / "alg").glob("*.c"))]
            if re.search(SELECT, p)]
# (kernel, program) -> (reason, strict); none now: sockopt_values on 6.1 (TCP_WINDOW_CLAMP
# and TCP_TX_DELAY -1, SO_TXREHASH on UDP, UDP_ENCAP) is answered by the profile's
# per-value answers (shim/kprofile.py) and measured identical there
KNOWN: dict = {}


@pytest.fixture(scope="module")
def guest_runs():
    """kernel -> {program: result} from one tools/vm run per kernel (or a skip reason)"""
    runs: dict[str, dict | str] = {}

    def get(kernel: str) -> dict:
        if kernel not in runs:
            out = ROOT / "vm-results"
            r = subprocess.run([str(VM), "run", "-k", kernel, "-f", SELECT, "--results", str(out)],
                               capture_output=True, text=True)
            if r.returncode == 2:     # prerequisites missing: tools/vm names them
                runs[kernel] = r.stderr.strip()
            else:
                found = [f for f in out.glob("*/results.json")
                         if json.loads(f.read_text())["kernel"] in r.stdout]
                assert found, f"tools/vm left no results:\n{r.stdout}\n{r.stderr}"
                results = json.loads(found[0].read_text())["results"]
                runs[kernel] = {"dir": found[0].parent, "table": r.stdout,
                                **{x["program"]: x for x in results}}
        got = runs[kernel]
        if isinstance(got, str):
            pytest.skip(got)
        return got
    return get


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_same_output_natively_and_under_the_shim_in_a_guest(request, guest_runs, kernel,
                                                            program):
    if (kernel, program) in KNOWN:
        reason, strict = KNOWN[kernel, program]
        request.applymarker(pytest.mark.xfail(strict=strict, reason=reason))
    run = guest_runs(kernel)
    result = run.get(program)
    assert result is not None, f"{program} did not run in the guest:\n{run['table']}"
    diff = run["dir"] / f"{program}.diff"
    assert result["verdict"] == "identical", (
        f"{program} on {kernel}: {result['verdict']}\n"
        + (diff.read_text() if diff.exists() else ""))
