"""Landlock under the shim (c_stub/landlock.c): the TCP rules are checked by the kernel
through probes (tests/ltp/landlock_net.c compares them with Linux); here, what the
stack cannot judge is refused with a clear message, never allowed silently."""
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
int main(void) {
    if (syscall(SYS_landlock_create_ruleset, NULL, 0, 1UL) < 6) { puts("unavailable"); return 0; }
    uint64_t attr[3] = {0, 0, 1};   /* scoped: LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET */
    int fd = (int)syscall(SYS_landlock_create_ruleset, attr, sizeof attr, 0UL);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (fd < 0 || syscall(SYS_landlock_restrict_self, fd, 0UL) < 0)
        return perror("restrict"), 1;
    struct sockaddr_un u; memset(&u, 0, sizeof u); u.sun_family = AF_UNIX;
    snprintf(u.sun_path + 1, sizeof u.sun_path - 1, "rn-same-domain-%d", (int)getpid());
    socklen_t l = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(u.sun_path + 1));
    int s = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(s, (struct sockaddr *)&u, l); listen(s, 1);
    int r = connect(c, (struct sockaddr *)&u, l);
    printf("%d %s\n", r, r < 0 ? strerrorname_np(errno) : "ok");
    return 0;
}
"""


@pytest.mark.skipif(CC is None, reason="no C compiler")
def test_abstract_scoping_refused_when_undecidable(rn, tmp_path):
    src = tmp_path / "same_domain.c"
    src.write_text(SAME_DOMAIN)
    exe = tmp_path / "same_domain"
    subprocess.run([CC, "-o", str(exe), str(src)], check=True)
    native = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30)
    if native.stdout == "unavailable\n":
        pytest.skip("the kernel has no Landlock abstract-unix scoping (ABI < 6)")
    assert native.stdout == "0 ok\n"        # a listener of the same domain: allowed
    shim = rn.run("run", "--", str(exe))
    assert shim.stdout == "-1 EPERM\n", shim  # refused, not allowed silently
    assert "Landlock abstract-unix scoping" in shim.stderr and "EPERM" in shim.stderr
