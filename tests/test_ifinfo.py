"""Programs see the stack's interfaces, not the machine's: getifaddrs, if_nameindex,
if_nametoindex/if_indextoname, SIOCGIF* ioctls (tests/ifinfo.c) and raw NETLINK_ROUTE
sockets, on a stack host with a wire eth0 (no kernel traffic, no root needed)."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def ifinfo_bin(tmp_path_factory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is required (tools/setup installs gcc)"
    out = tmp_path_factory.mktemp("ifinfo") / "ifinfo"
    r = subprocess.run([cc, "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2", "-o", str(out),
                        str(HERE / "ifinfo.c")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture
def wire_host(rn):
    name = "if" + uuid.uuid4().hex[:6]
    r = rn.run("host", "start", name, "--eth", f"wire:{name}", "--addr", "10.9.0.2/24",
               "--addr", "fd09::2/64")
    assert r.returncode == 0, r.stderr
    yield name
    rn.run("host", "stop", name)


def parse_ip_addr(text: str) -> dict[str, dict]:
    """`rocketnet ip addr` -> {ifname: {index, mtu, mac, addrs: {(family, addr/prefix)}}}"""
    out: dict[str, dict] = {}
    cur: dict = {}
    for line in text.splitlines():
        m = re.match(r"(\d+): (\S+): <[^>]*> mtu (\d+)", line)
        if m:
            cur = out[m.group(2)] = {"index": int(m.group(1)), "mtu": int(m.group(3)),
                                     "addrs": set()}
            continue
        m = re.match(r"\s+link/\S+ (\S+)", line)
        if m:
            cur["mac"] = m.group(1)
            continue
        m = re.match(r"\s+(inet6?) (\S+)", line)
        if m:
            cur["addrs"].add((m.group(1), m.group(2)))
    return out


def prefix_of(mask: str) -> int:
    return sum(bin(b).count("1") for b in socket.inet_pton(
        socket.AF_INET6 if ":" in mask else socket.AF_INET, mask))


def test_program_sees_the_stacks_interfaces(rn, wire_host, ifinfo_bin) -> None:
    ip = parse_ip_addr(rn.run("ip", "--host", wire_host, "addr", check=True).stdout)
    assert set(ip) == {"lo", "eth0"}
    r = rn.run("run", "--host", wire_host, "--", str(ifinfo_bin), timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    lines = out.splitlines()

    # getifaddrs: one AF_PACKET entry per link (its MAC), then every address
    packet = {ln.split()[1]: ln.split()[3] for ln in lines if ln.startswith("ifaddr ")
              and ln.split()[2] == str(socket.AF_PACKET)}
    assert packet == {n: i["mac"] for n, i in ip.items()}
    addrs: dict[str, set] = {"lo": set(), "eth0": set()}
    for ln in lines:
        f = ln.split()
        if f[0] == "ifaddr" and f[2] in (str(socket.AF_INET), str(socket.AF_INET6)):
            fam = "inet" if f[2] == str(socket.AF_INET) else "inet6"
            addrs[f[1]].add((fam, f"{f[3]}/{prefix_of(f[5])}"))
    assert addrs == {n: i["addrs"] for n, i in ip.items()}
    assert "ifaddr eth0 2 10.9.0.2 mask 255.255.255.0 brd 10.9.0.255" in out

    # if_nameindex / if_nametoindex / if_indextoname
    assert [ln for ln in lines if ln.startswith("nameindex ")] == [
        f"nameindex {ip['lo']['index']} lo", f"nameindex {ip['eth0']['index']} eth0"]
    assert f"nametoindex lo {ip['lo']['index']}" in lines
    assert "nametoindex nosuch0 0 ENODEV" in lines
    assert f"indextoname {ip['lo']['index']} lo" in lines
    assert "indextoname 9999 NULL ENXIO" in lines

    # SIOCGIF*
    assert [ln for ln in lines if ln.startswith("ifconf ")] == [
        "ifconf size 2", "ifconf lo 127.0.0.1", "ifconf eth0 10.9.0.2", "ifconf short 0"]
    for name, info in ip.items():
        v4 = next(a for fam, a in info["addrs"] if fam == "inet")
        assert f"ioctl index {name} {info['index']}" in lines
        assert f"ioctl mtu {name} {info['mtu']}" in lines
        assert f"ioctl hwaddr {name} {772 if name == 'lo' else 1} {info['mac']}" in lines
        assert f"ioctl addr {name} {v4.split('/')[0]}" in lines
        assert f"ioctl name {info['index']} {name}" in lines
    assert "ioctl flags lo 0x49" in lines and "ioctl flags eth0 0x1043" in lines
    assert "ioctl netmask eth0 255.255.255.0" in lines
    assert "ioctl brdaddr eth0 10.9.0.255" in lines
    assert "ioctl netmask lo 255.0.0.0" in lines
    assert "ioctl index nosuch0 -1 ENODEV" in lines and "ioctl mtu nosuch0 -1 ENODEV" in lines
    assert "ioctl name 9999 -1 ENODEV" in lines
    assert "ioctl efault -1 EFAULT" in lines and "ioctl ifconf efault -1 EFAULT" in lines
    assert "fionread 0 0" in lines       # other ioctls still reach the kernel's A end

    # natively the same program sees the machine's interfaces
    native = subprocess.run([str(ifinfo_bin)], capture_output=True, text=True, timeout=30)
    assert native.returncode == 0, native.stderr
    machine = sorted(os.listdir("/sys/class/net"))
    assert sorted(ln.split()[2] for ln in native.stdout.splitlines()
                  if ln.startswith("nameindex ")) == machine
    assert ip["eth0"]["mac"] not in native.stdout and "10.9.0.2" not in native.stdout


NL_SCRIPT = r"""
import socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.bind((0, 0))
pid, groups = s.getsockname()
print("bound", pid > 0, groups)
def ask(kind, flags, body, seq):
    s.send(struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body)
    data = s.recv(65536)
    off, out = 0, []
    while off + 16 <= len(data):
        ln, t, f, sq, p = struct.unpack_from("=IHHII", data, off)
        out.append((t, sq, p, data[off + 16: off + ln]))
        off += (ln + 3) & ~3
    return out
# RTM_GETROUTE dump: RTM_NEWROUTE per route (shim/rtroute.py), then NLMSG_DONE
print("route", sorted({(t, sq, p == pid) for t, sq, p, body in ask(26, 0x301, bytes(12), 7)}))
# RTM_GETNEIGH dump: not served -> NLMSG_ERROR EOPNOTSUPP quoting the request
for t, sq, p, body in ask(30, 0x301, bytes(12), 11):
    print("neigh", t, sq, p == pid, -struct.unpack_from("=i", body)[0])
# RTM_GETLINK dump: RTM_NEWLINK per link, then NLMSG_DONE
names = []
for t, sq, p, body in ask(18, 0x301, bytes(16), 8):
    if t == 16:
        off = 16
        while off + 4 <= len(body):
            ln, at = struct.unpack_from("=HH", body, off)
            if at == 3:
                names.append(body[off + 4: off + ln].rstrip(b"\0").decode())
            off += (ln + 3) & ~3
    else:
        print("end", t, sq, p == pid)
print("links", " ".join(names))
# RTM_GETLINK for one index (no dump)
res = ask(18, 0x1, struct.pack("=BxHiII", 0, 0, 2, 0, 0), 9)
print("one", [(t, sq) for t, sq, p, b in res])
res = ask(18, 0x1, struct.pack("=BxHiII", 0, 0, 99, 0, 0), 10)
print("none", [(t, -struct.unpack_from("=i", b)[0]) for t, sq, p, b in res])
g = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)   # NETLINK_GENERIC: the kernel's
g.bind((0, 0))
print("generic", g.getsockname()[0] > 0)
"""


def test_netlink_route_socket_is_served_by_the_host(rn, wire_host) -> None:
    r = rn.run("run", "--host", wire_host, "--", sys.executable, "-c", NL_SCRIPT, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "bound True 0"
    assert "route [(3, 7, True), (24, 7, True)]" in lines  # RTM_NEWROUTE..., NLMSG_DONE
    assert "neigh 2 11 True 95" in lines                  # NLMSG_ERROR, -EOPNOTSUPP
    assert "end 3 8 True" in lines and "links lo eth0" in lines
    assert "one [(16, 9)]" in lines
    assert "none [(2, 19)]" in lines                       # ENODEV
    assert "generic True" in lines


def test_iproute2_shows_the_stacks_addresses(rn, wire_host) -> None:
    if shutil.which("ip") is None:
        pytest.skip("iproute2 (ip) is not installed")
    mac = parse_ip_addr(rn.run("ip", "--host", wire_host, "addr", check=True).stdout)[
        "eth0"]["mac"]
    r = rn.run("run", "--host", wire_host, "--", "ip", "addr", timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"link/ether {mac}" in r.stdout
    assert "inet 10.9.0.2/24 brd 10.9.0.255 scope global eth0" in r.stdout
    assert "inet6 fd09::2/64 scope global" in r.stdout


def test_siocsif_changes_the_stacks_interface_as_linux_its_own(rn, tmp_path) -> None:
    """A root program's SIOCSIFMTU must reach the stack's lo, never the machine's: the same
    program natively in a network namespace of its own prints the same."""
    cc = shutil.which("cc") or shutil.which("gcc")
    exe = tmp_path / "ifset"
    subprocess.run([cc, "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-o", str(exe),
                    str(HERE / "ifset.c")], check=True)
    before = Path("/sys/class/net/lo/mtu").read_text()
    native = subprocess.run(["unshare", "-n", "sh", "-c", f"ip link set lo up && {exe}"],
                            capture_output=True, text=True, timeout=30)
    assert native.returncode == 0, native.stderr
    shimmed = rn.run("run", "--", str(exe), timeout=30)
    assert shimmed.stdout == native.stdout, shimmed.stderr
    assert "SIOCGIFMTU lo                        = 1500" in shimmed.stdout
    assert Path("/sys/class/net/lo/mtu").read_text() == before     # the machine's lo untouched
