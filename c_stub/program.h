/* program.h - ELF inspection shared by the stub (exec.c) and the host's cffi module. */
#ifndef RN_PROGRAM_H
#define RN_PROGRAM_H

struct rn_program {
    int error;       /* errno of open/read, else 0 */
    int elf;         /* an ELF file */
    int script;      /* "#!": interp is the script's interpreter */
    int elfclass;    /* EI_CLASS */
    int machine;     /* e_machine */
    int dynamic;     /* has a PT_INTERP: interp is its dynamic loader */
    int has_dynamic; /* has a PT_DYNAMIC (static-pie when without PT_INTERP) */
    char interp[256];
};

int rn_program_read(int dirfd, const char *path, struct rn_program *p);
int rn_program_read_fd(int fd, struct rn_program *p);
const char *rn_machine_arch(int machine);
const char *rn_preload_build(const char *interp);
const char *rn_program_problem(const struct rn_program *p, const char *own_arch);
const char *rn_own_arch(void);

#endif
