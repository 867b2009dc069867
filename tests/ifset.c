/* ifset: SIOCSIF* on a UDP socket change the interfaces of the program's network (natively
 * run it in a network namespace of its own): lo's MTU as root, errors, EPERM without root.
 * Prints return values, MTUs and errno names (tests/test_ifinfo.py compares). */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long ret)
{
    if (ret < 0)
        printf("%-36s = -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%-36s = %ld\n", what, ret);
    fflush(stdout);
}

static int set_mtu(int s, const char *name, int mtu)
{
    struct ifreq r;
    memset(&r, 0, sizeof r);
    strcpy(r.ifr_name, name);
    r.ifr_mtu = mtu;
    return ioctl(s, SIOCSIFMTU, &r);
}

static int get_mtu(int s, const char *name)
{
    struct ifreq r;
    memset(&r, 0, sizeof r);
    strcpy(r.ifr_name, name);
    return ioctl(s, SIOCGIFMTU, &r) < 0 ? -1 : r.ifr_mtu;
}

int main(void)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    show("SIOCGIFMTU lo", get_mtu(s, "lo"));
    show("SIOCSIFMTU lo 1500", set_mtu(s, "lo", 1500));
    show("SIOCGIFMTU lo", get_mtu(s, "lo"));
    show("SIOCSIFMTU lo -1", set_mtu(s, "lo", -1));
    show("SIOCSIFMTU lo 1280", set_mtu(s, "lo", 1280));
    show("SIOCGIFMTU lo", get_mtu(s, "lo"));
    show("SIOCSIFMTU nope0 1500", set_mtu(s, "nope0", 1500));
    struct ifreq r;
    memset(&r, 0, sizeof r);
    strcpy(r.ifr_name, "lo");
    r.ifr_flags = IFF_UP;
    show("SIOCSIFFLAGS lo IFF_UP", ioctl(s, SIOCSIFFLAGS, &r));
    show("SIOCSIFMTU lo 65536", set_mtu(s, "lo", 65536));
    show("SIOCSIFMTU (void *)-1", ioctl(s, SIOCSIFMTU, (void *)-1));
    pid_t p = fork();
    if (p == 0) {
        if (setuid(65534) < 0)
            return 2;
        show("SIOCSIFMTU lo as nobody", set_mtu(s, "lo", 1400));
        show("SIOCGIFMTU lo as nobody", get_mtu(s, "lo"));
        return 0;
    }
    int st;
    waitpid(p, &st, 0);
    return 0;
}
