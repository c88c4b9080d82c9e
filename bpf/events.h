/* The wire format between sensor.bpf.c and sensor/decode.py.
 *
 * One ring-buffer record per event: a fixed header, then `nrec` argument records, each a
 * 4-byte record header followed by `len` bytes. Every field is little-endian and packed
 * (no padding between records), so the Python decoder reads it with `struct` and never
 * needs this file; decode.py mirrors these numbers and a test checks that they agree.
 *
 * Bump EVENT_VERSION when the layout changes: the decoder refuses other versions rather
 * than misreading them.
 */
#ifndef LANNER_EVENTS_H
#define LANNER_EVENTS_H

#define EVENT_VERSION 1

/* Event type ids: x86_64 syscall numbers are used as is (all below 500); the sched
 * tracepoints take ids above them. The interest map is indexed by the same ids. */
#define EVT_SCHED_FORK 500
#define EVT_SCHED_EXEC 501
#define EVT_SCHED_EXIT 502
#define EVT_MAX 512

/* Interest flags, per event type id. */
#define SC_TP 1   /* handled by the per-syscall tracepoints (syscalls:sys_enter_<name>) */
/* 2 was SC_RAW (raw_syscalls), no longer used */
#define SC_EMIT 4 /* emit an event at exit; without it the enter is stashed for others */
#define SC_EARLY 8 /* read the arguments at enter, not exit: exec, whose user memory is
                    * gone once it succeeds */
#define SC_OK_ONLY 16 /* emit only when the syscall succeeded (ret >= 0): wanted for the
                       * process and fd state alone, which a failed call does not change */
#define SC_FIXED 32 /* the arguments are interest.nfixed K_INT records, indexes 0..nfixed-1:
                     * the size is known before anything is read, so the event is written
                     * into the ring buffer in place (no scratch, no copy) */

/* How syscall argument i is read (interest.kind[i]): at exit, or at enter with SC_EARLY. */
#define K_NONE 0
#define K_INT 1      /* the raw 64-bit register value */
#define K_STR 2      /* NUL-terminated user string (a path) */
#define K_SOCKADDR 3 /* user sockaddr; aux = index of the argument holding its length */
#define K_UBYTES 4   /* aux bytes of user memory (open_how, clone_args...) */
#define K_MSGNAME 5  /* sendmsg: the sockaddr named by a user msghdr */
#define K_ARGV 6     /* NULL-terminated array of user strings (execve argv) */
#define K_SOCKADDR_OUT 7 /* accept: sockaddr written by the kernel, read at exit;
                          * aux = index of the argument pointing at its length */
#define K_SCHED_STR 8 /* a string taken from a sched tracepoint (exec filename) */
#define K_SCHED_INT 9 /* an integer taken from a sched tracepoint */
#define K_ENV 10     /* a sched exec's environment: NUL-terminated strings, one block */
#define K_ARGV_BLOCK 11 /* an exec's whole argv as exec laid it out (NUL-terminated strings,
                         * one block), taken at the sched exec when the enter read failed:
                         * replaces that argument's K_ARGV records */

/* Size limits. A value longer than its limit is cut and flagged, never dropped. */
#define STR_MAX 4096       /* one path */
#define SOCKADDR_MAX 128   /* sizeof(struct sockaddr_storage) */
#define UBYTES_MAX 64
#define ARGV_MAX_ARGS 128   /* argv elements (argv[0] included) */
#define ARGV_ELEM_MAX 8192  /* one argv element, NUL included; a power of two */
#define ARGV_BYTES_MAX 16384 /* argv read (NULs included) past which no element starts */
/* All argument records of one event. Bounded by the per-CPU scratch map, whose values
 * the kernel caps at 32 KiB (argv.h checks it); an exec_stash element of this size takes
 * the same order-3 allocation the 16 KiB record did. */
#define DATA_MAX 32512

/* hdr.flags: bit i (0..5) = argument i was truncated, plus these. */
#define F_ARGV_COUNT 0x100 /* argv had more than ARGV_MAX_ARGS elements */
#define F_ARGV_BYTES 0x200 /* argv was longer than ARGV_BYTES_MAX in total */
#define F_READ_FAILED 0x400 /* some user memory could not be read */
#define F_DATA_FULL 0x800  /* DATA_MAX reached: later arguments are missing */

/* Drop / loss counters (drops map index). */
#define D_RINGBUF 0     /* ring buffer full: event lost */
#define D_READ 1        /* user memory read failed: argument left out */
#define D_STASH_FULL 2  /* per-thread or exec stash full, or no entry for the task: lost */
#define D_NO_ENTER 3    /* exit seen without its enter (attached mid-syscall), or
                         * saved registers that did not name the syscall */
#define D_SCRATCH 4     /* per-CPU scratch buffer unavailable */
#define D_NREASONS 5

struct event_hdr {
    __u64 ts_ns;     /* bpf_ktime_get_ns: monotonic clock */
    __u64 cgroup_id; /* cgroup v2 id on process events (fork, exec, exit) and exec
                      * exits (execve, execveat); 0 on other syscalls */
    __s64 res;       /* syscall return value; 0 for sched events */
    __u32 type;      /* syscall number or EVT_SCHED_* */
    __u32 size;      /* bytes of this record, header included */
    __u32 pid;       /* tgid */
    __u32 tid;
    __u32 uid;
    __u32 gid;
    __u16 flags;     /* F_* and per-argument truncation bits */
    __u16 nrec;      /* argument records that follow */
    __u16 version;   /* EVENT_VERSION */
    __u16 reserved;
    char comm[16];
}; /* 72 bytes */

struct arg_rec {
    __u8 kind;  /* K_* */
    __u8 idx;   /* syscall argument index (0..5) or sched field index */
    __u16 len;  /* bytes of data that follow */
};

struct event {
    struct event_hdr hdr;
    __u8 data[DATA_MAX];
};

/* What Python writes per event type id: how to read each argument, and when to emit. */
#define EMIT_IF_MAX 4
struct interest {
    __u8 flags;       /* SC_* */
    __u8 kind[6];     /* K_* per syscall argument */
    __u8 nfixed;      /* SC_FIXED: how many K_INT records */
    __u16 aux[6];     /* per kind: length argument index or byte count */
    /* emit_if_n > 0: emit only when argument emit_if_idx (its low 32 bits: the int the
     * syscall reads) is one of emit_if_val[0 .. emit_if_n - 1] (fcntl: F_DUPFD...). */
    __u8 emit_if_idx;
    __u8 emit_if_n;
    __u8 nregs;       /* ARGS_FROM_REGS: arguments 0..nregs-1 are read, the rest left 0 */
    __u8 reserved;
    __u32 emit_if_val[EMIT_IF_MAX];
};

/* Per CPU (the cpu_state map's one element): first the settings Python writes before
 * attaching, the same on every CPU but held per CPU so that an event reads one cache line
 * of its own for all of them, then what the CPU remembers between its events. The excluded
 * tgids sit inline, compared without hashing; past EXCL_INLINE they go to the excluded
 * hash. */
#define EXCL_INLINE 8
#define EXCL_HASH 0xffffffff /* nexcl: look the tgid up in the excluded hash */
struct cpu_state {
    __u64 wake_ns;   /* wake the reader at most once per wake_ns per CPU (0: per record) */
    __u32 nexcl;
    __u32 excl[EXCL_INLINE];
    __u32 ring_full; /* BPF: this CPU's last record found the ring buffer full */
    __u64 last_wake; /* BPF: ts_ns of this CPU's last forced wakeup */
};

#endif
