/* program.c - what kind of program a file is, and which preload build serves it.
 *
 * One ELF reader for both sides: the stub includes it for its exec interposers
 * (exec.c), the host's cffi module (shim._stub, build_ffi.py) for `rocketnet run`.
 * Async-signal-safe (open, pread, close only): exec.c calls it between vfork and exec.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "program.h"

#ifndef EM_RISCV
#define EM_RISCV 243
#endif
#ifndef EM_LOONGARCH
#define EM_LOONGARCH 258
#endif

/* The machines we know by name, and the preload build each dynamic loader needs. */
static const struct { int machine; const char *arch; } rn_arches[] = {
    {EM_X86_64, "x86_64"}, {EM_RISCV, "riscv64"}, {EM_LOONGARCH, "loongarch64"},
    {EM_AARCH64, "aarch64"}, {EM_386, "i386"}, {EM_ARM, "arm"},
};
static const struct { const char *loader; const char *build; } rn_loaders[] = {
    {"ld-linux-x86-64.so.2", "x86_64-glibc"},
    {"ld-musl-x86_64.so.1", "x86_64-musl"},
    {"ld-linux-riscv64-lp64d.so.1", "riscv64-glibc"},
    {"ld-musl-riscv64.so.1", "riscv64-musl"},
    {"ld-linux-loongarch-lp64d.so.1", "loongarch64-glibc"},
    {"ld-musl-loongarch64.so.1", "loongarch64-musl"},
};

const char *rn_machine_arch(int machine)
{
    for (size_t i = 0; i < sizeof rn_arches / sizeof rn_arches[0]; i++)
        if (rn_arches[i].machine == machine)
            return rn_arches[i].arch;
    return NULL;
}

const char *rn_preload_build(const char *interp)
{
    const char *base = strrchr(interp, '/');
    base = base ? base + 1 : interp;
    for (size_t i = 0; i < sizeof rn_loaders / sizeof rn_loaders[0]; i++)
        if (strcmp(rn_loaders[i].loader, base) == 0)
            return rn_loaders[i].build;
    return NULL;
}

static int rn_pread_all(int fd, void *buf, size_t n, off_t off)
{
    ssize_t r = pread(fd, buf, n, off);
    return r == (ssize_t)n ? 0 : -1;
}

/* ELF64 little-endian only: every machine above that we serve is one. */
int rn_program_read_fd(int fd, struct rn_program *p)
{
    memset(p, 0, sizeof *p);
    Elf64_Ehdr eh;
    ssize_t n = pread(fd, &eh, sizeof eh, 0);
    if (n < 0) {
        p->error = errno;
        return -1;
    }
    if (n >= 2 && memcmp(&eh, "#!", 2) == 0) {
        /* a script: the kernel runs the interpreter named on its first line */
        char *s = (char *)&eh + 2, *end = (char *)&eh + n;
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        size_t len = 0;
        while (s + len < end && s[len] != ' ' && s[len] != '\t' && s[len] != '\n')
            len++;
        if (len == 0 || len >= sizeof p->interp)
            return 0;
        p->script = 1;
        memcpy(p->interp, s, len);
        p->interp[len] = 0;
        return 0;
    }
    if (n < (ssize_t)sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
        return 0;
    p->elf = 1;
    p->elfclass = eh.e_ident[EI_CLASS];
    p->machine = eh.e_machine;
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
        eh.e_phentsize != sizeof(Elf64_Phdr))
        return 0;
    for (unsigned i = 0; i < eh.e_phnum && i < 128; i++) {
        Elf64_Phdr ph;
        if (rn_pread_all(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) < 0)
            return 0;
        if (ph.p_type == PT_DYNAMIC)
            p->has_dynamic = 1;
        if (ph.p_type != PT_INTERP || ph.p_filesz < 2 || ph.p_filesz > sizeof p->interp)
            continue;
        if (rn_pread_all(fd, p->interp, ph.p_filesz, (off_t)ph.p_offset) < 0 ||
            p->interp[ph.p_filesz - 1] != 0) {
            p->interp[0] = 0;
            continue;
        }
        p->dynamic = 1;
    }
    return 0;
}

int rn_program_read(int dirfd, const char *path, struct rn_program *p)
{
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        memset(p, 0, sizeof *p);
        p->error = errno;
        return -1;
    }
    int r = rn_program_read_fd(fd, p);
    close(fd);
    return r;
}

/* Why the preload build of OWN_ARCH cannot serve a program (words for one stderr
 * line), or NULL.  Whether that build is installed is the caller's question. */
const char *rn_program_problem(const struct rn_program *p, const char *own_arch)
{
    if (!p->elf)
        return NULL; /* not ELF: the kernel refuses it or runs what it names */
    const char *arch = rn_machine_arch(p->machine);
    if (p->elfclass != ELFCLASS64 || !arch)
        return "an ELF program of a machine rocketnet has no build for";
    if (!p->dynamic)
        return p->has_dynamic ? "a static-pie program (no dynamic loader, so no preload)"
                              : "statically linked (no dynamic loader, so no preload)";
    if (!rn_preload_build(p->interp))
        return "its dynamic loader is one rocketnet has no build for";
    if (strcmp(arch, own_arch) != 0)
        return "a foreign-architecture program";
    return NULL;
}

/* The machine this code was compiled for (the stub's own, the host's for the CLI). */
const char *rn_own_arch(void)
{
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#elif defined(__loongarch64)
    return "loongarch64";
#elif defined(__aarch64__)
    return "aarch64";
#else
    return "unknown";
#endif
}
