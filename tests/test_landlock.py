"""Landlock under the shim (c_stub/landlock.c): the TCP rules are checked by the kernel
through probes (tests/ltp/landlock_net.c compares them with Linux); here, abstract-unix
scoping inside one domain, and what the stack cannot judge refused with a clear
message, never allowed silently."""
from __future__ import annotations

import shutil
import subprocess

import pytest

CC = shutil.which("cc") or shutil.which("gcc")
SAME_DOMAIN = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
static socklen_t name(struct sockaddr_un *u, const char *tag) {
    memset(u, 0, sizeof *u);
    u->sun_family = AF_UNIX;
    snprintf(u->sun_path + 1, sizeof u->sun_path - 1, "rn-%s-%d", tag, (int)getpid());
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(u->sun_path + 1));
}
static void try_connect(const char *what, struct sockaddr_un *u, socklen_t l) {
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    int r = connect(c, (struct sockaddr *)u, l);
    printf("%s: %d %s\n", what, r, r < 0 ? strerrorname_np(errno) : "ok");
    close(c);
}
int main(void) {
    if (syscall(SYS_landlock_create_ruleset, NULL, 0, 1UL) < 6) { puts("unavailable"); return 0; }
    uint64_t attr[3] = {0, 0, 1};   /* scoped: LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET */
    int fd = (int)syscall(SYS_landlock_create_ruleset, attr, sizeof attr, 0UL);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (fd < 0 || syscall(SYS_landlock_restrict_self, fd, 0UL) < 0)
        return perror("restrict"), 1;
    struct sockaddr_un u, v;
    socklen_t l = name(&u, "same"), m = name(&v, "dup");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(s, (struct sockaddr *)&u, l);
    listen(s, 1);
    try_connect("same domain", &u, l);
    int t = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(t, (struct sockaddr *)&v, m);
    listen(t, 1);
    int t2 = dup(t);      /* the listener lives on as t2; its witness went with t */
    close(t);
    try_connect("after dup and close", &v, m);
    close(t2);
    return 0;
}
"""


@pytest.mark.skipif(CC is None, reason="no C compiler")
def test_abstract_scoping_same_domain_and_undecidable(rn, tmp_path):
    src = tmp_path / "same_domain.c"
    src.write_text(SAME_DOMAIN)
    exe = tmp_path / "same_domain"
    subprocess.run([CC, "-o", str(exe), str(src)], check=True)
    native = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30)
    if native.stdout == "unavailable\n":
        pytest.skip("the kernel has no Landlock abstract-unix scoping (ABI < 6)")
    assert native.stdout == "same domain: 0 ok\nafter dup and close: 0 ok\n"
    shim = rn.run("run", "--", str(exe))
    # the kernel judges the listener's domain through its witness: allowed, as Linux
    assert shim.stdout.splitlines()[0] == "same domain: 0 ok", shim
    # no witness left: refused with a clear line, never let through silently
    assert shim.stdout.splitlines()[1] == "after dup and close: -1 EPERM", shim
    assert "cannot be judged" in shim.stderr


@pytest.mark.skipif(CC is None, reason="no C compiler")
def test_abstract_scoping_same_domain_on_the_seccomp_path(rn, tmp_path):
    """The same program, static, served by the supervisor: the witnesses are made on its
    thread of the binder's domain and judged on its thread of the connector's
    (shim/seccomp_landlock.py), so the kernel's answers are Linux's."""
    from tests.test_seccomp import REASON
    if REASON is not None:
        pytest.skip(REASON)
    src = tmp_path / "same_domain.c"
    src.write_text(SAME_DOMAIN)
    exe = tmp_path / "same_domain"
    subprocess.run([CC, "-static", "-o", str(exe), str(src)], check=True)
    native = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30)
    if native.stdout == "unavailable\n":
        pytest.skip("the kernel has no Landlock abstract-unix scoping (ABI < 6)")
    shim = rn.run("run", "--via", "seccomp", "--", str(exe))
    assert shim.stdout == native.stdout, shim
