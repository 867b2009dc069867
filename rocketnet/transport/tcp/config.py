"""TCP tunables."""

from __future__ import annotations

from .consts import (
    INT_MAX,
)


class TcpConfig:
    """Tunables (Linux defaults unless noted)."""

    def __init__(self) -> None:
        self.msl = 30.0  # TIME_WAIT = 2*MSL = 60 s, Linux TCP_TIMEWAIT_LEN
        self.rto_init = 1.0
        self.rto_min = 0.2
        self.rto_max = 120.0
        self.syn_retries = 6
        self.synack_retries = 5
        self.retries2 = 15
        self.fin_timeout = 60.0
        # the buffers start at tcp_rmem[1] / tcp_wmem[1] (so_rcvbuf / so_sndbuf) and,
        # unless SO_RCVBUF / SO_SNDBUF fix them, grow up to tcp_rmem[2] / tcp_wmem[2]
        # (rcvbuf / sndbuf): the receive buffer with what the application reads per
        # round trip (Linux tcp_rcv_space_adjust), the send buffer with the congestion
        # window (tcp_sndbuf_expand)
        self.rcvbuf = 6 * 1024 * 1024
        self.sndbuf = 4 * 1024 * 1024
        # the host's tcp_mem[1] and tcp_mem[2] (bytes, not pages): ring storage of all
        # connections above which those over their share of the limit stop growing,
        # have their window clamped and give drained rings back (the host is one
        # process holding every connection's buffers)
        self.mem_pressure = 16 * 1024 * 1024
        self.mem_limit = 64 * 1024 * 1024
        self.somaxconn = 4096           # net.core.somaxconn
        self.so_sndbuf = 16384          # net.ipv4.tcp_wmem[1]: SO_SNDBUF of a new socket
        self.so_rcvbuf = 131072         # net.ipv4.tcp_rmem[1]
        self.init_cwnd = 10
        self.rcv_wscale = 7  # enough for 8 MiB windows
        self.default_mss = 536
        self.ephemeral = (32768, 60999)
        # sysctl-like switches (net.ipv4.tcp_sack / tcp_timestamps / tcp_window_scaling)
        self.sack = True
        self.timestamps = True
        self.window_scaling = True
        self.congestion = b"cubic"  # net.ipv4.tcp_congestion_control
        # out-of-order queue bound: at most this many separate blocks (the bytes are
        # bounded by the receive buffer)
        self.ooo_max_blocks = 1024
        # delayed ACK (Linux TCP_DELACK_MIN; TCP_MAX_QUICKACKS at the start of a transfer)
        self.delack = 0.04
        self.max_quickacks = 16
        # RFC 5961 challenge ACKs and out-of-window duplicate ACKs: at most one per
        # socket per net.ipv4.tcp_invalid_ratelimit; host-wide at most
        # net.ipv4.tcp_challenge_ack_limit per second (INT_MAX, off, since Linux 6.0)
        self.invalid_ratelimit = 0.5
        self.challenge_ack_limit = INT_MAX
