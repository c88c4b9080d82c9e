/* lanner's syscall sensor, compiled by bcc (sensor/capture.py).
 *
 * With ARGS_FROM_REGS (kernels with BTF: sensor/capture.py tries it first) a syscall is
 * traced by its exit tracepoint alone: sc_exit takes the number and the six arguments
 * from the task's saved user registers (bpf_task_pt_regs), which a syscall leaves as they
 * were at entry, so there is no enter program and no stash for it. Only exec (SC_EARLY
 * below) keeps an enter program. Measured on an open+close loop (kernel 6.18, consumer
 * paused, a ring buffer large enough that every event is copied; medians of 7 interleaved
 * rounds): +107% against +145% with enter programs and the task-storage stash. Exit-only
 * tracepoints running empty programs cost about +60% of that loop by themselves.
 *
 * Otherwise one pair of generic programs serves every syscall. sc_enter saves the six raw
 * argument registers (a few dozen bytes) in a per-thread slot (task-local storage, or a hash keyed
 * by thread id when STASH_TASK_STORAGE is not defined); sc_exit takes them back, builds the
 * event in a per-CPU scratch buffer (paths, sockaddrs and the like are read from user
 * memory then: the pointers are still valid, the task has not returned to user space) and
 * copies it into the ring buffer. The per-syscall tracepoints (syscalls:sys_enter_*) and
 * raw_syscalls:sys_enter share one context layout (syscall number at offset 8, the six
 * arguments from offset 16), so the same code runs on both: per-syscall tracepoints are
 * attached for the enabled syscalls only (no cost for the others), raw_syscalls only when
 * an enabled syscall has no tracepoint of its own (init_module on a kernel without
 * modules). What to read per syscall is data (struct interest, filled from Python), not
 * code, so adding a syscall does not touch this file.
 *
 * Why not read everything at enter: an event record is up to 16.5 KB, and writing it into
 * a hash map at every enter then looking it up and deleting it at exit cost more than the
 * rest of the sensor together (with openat and close traced, an open+close loop ran
 * 2.6-2.8x slower that way, 1.9x now). Exception, flagged SC_EARLY by Python:
 * execve/execveat, whose filename and
 * argv live in the address space a successful exec throws away. Those are read at enter
 * into the full record, kept in a separate hash (exec_stash) until the exit.
 *
 * Nothing here reads kernel structs: only tracepoint fields, helpers and user memory.
 *
 * Verifier note: the write offset into the record lives in the stash entry (memory), not
 * in a register, so each argument starts from an unknown-but-bounded offset and the
 * verifier's states converge instead of multiplying per argument kind.
 */
#include <uapi/linux/ptrace.h>
#include "events.h"

#ifndef RINGBUF_PAGES
#define RINGBUF_PAGES 256
#endif
#ifndef STASH_ENTRIES
#define STASH_ENTRIES 8192
#endif
#ifndef EXEC_STASH_ENTRIES
#define EXEC_STASH_ENTRIES 1024
#endif

#define CLONE_THREAD_FLAG 0x00010000ULL
/* Syscall numbers (NR_EXECVE...) come from sensor/syscalls.py's rows, as -D flags. */
#if !defined(NR_CLONE) || !defined(NR_CLONE3) || !defined(NR_VFORK) || !defined(NR_EXECVE) \
    || !defined(NR_EXECVEAT)
#error "compile with sensor.capture.syscall_number_defines()"
#endif

struct sc_enter_ctx {
    __u64 common;
    int nr;
    int pad;
    unsigned long args[6];
};

struct sc_exit_ctx {
    __u64 common;
    int nr;
    int pad;
    long ret;
};

/* A syscall in flight: what sc_exit needs to build its event. */
struct sc_args {
    __u64 args[6];
    __u32 nr;
    __u32 live; /* task storage: set at enter, cleared at exit (no delete) */
};

/* An event being built (scratch), or an exec's event read at enter (exec_stash). */
struct stash_entry {
    __u64 args[8]; /* 6 used; 8 so that an index masked with 7 stays in bounds */
    __u32 off;      /* bytes of ev.data in use */
    __u8 out_idx;   /* argument read at exit (K_SOCKADDR_OUT), 0xff for none */
    __u8 out_aux;
    __u16 unread; /* bit i: string argument i could not be read */
    struct event ev;
};

BPF_RINGBUF_OUTPUT(events, RINGBUF_PAGES);
BPF_ARRAY(interest, struct interest, EVT_MAX);
BPF_HASH(excluded, __u32, __u8, 1024);
BPF_PERCPU_ARRAY(drops, __u64, D_NREASONS);
BPF_PERCPU_ARRAY(scratch, struct stash_entry, 1);
#if defined(ARGS_FROM_REGS)
/* No stash: sc_exit and on_sched_fork read the saved user registers. */
#elif defined(STASH_TASK_STORAGE)
/* Task-local storage: found from the task without hashing, allocated once per task and
 * freed with it (an entry is marked dead at exit instead of deleted). Needs kernel BTF
 * for bpf_get_current_task_btf; Python falls back to the hash below without it. */
BPF_TASK_STORAGE(stash, struct sc_args);
#else
/* Keyed by thread id. Small entries, written at every traced enter: preallocated, so an
 * update takes one from a free list instead of allocating. */
BPF_HASH(stash, __u32, struct sc_args, STASH_ENTRIES);
#endif
/* Entries live only while an exec runs, so most of the table stays empty: no prealloc. */
BPF_F_TABLE("hash", __u32, struct stash_entry, exec_stash, EXEC_STASH_ENTRIES,
            BPF_F_NO_PREALLOC);

#ifdef ARGS_FROM_REGS
/* The calling thread's syscall number and arguments from its saved user registers (x86_64:
 * orig_ax, then di si dx r10 r8 r9). 0 on success. */
static __always_inline int regs_args(struct sc_args *a)
{
    struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
    struct pt_regs r;
    if (!regs || bpf_probe_read_kernel(&r, sizeof(r), regs) != 0)
        return -1;
    a->nr = (__u32)r.orig_ax;
    a->args[0] = r.di;
    a->args[1] = r.si;
    a->args[2] = r.dx;
    a->args[3] = r.r10;
    a->args[4] = r.r8;
    a->args[5] = r.r9;
    return 0;
}
#else
/* The calling thread's syscall in flight, or 0. */
static __always_inline struct sc_args *stash_get(__u32 tid)
{
#ifdef STASH_TASK_STORAGE
    struct sc_args *a = stash.task_storage_get(bpf_get_current_task_btf(), 0, 0);
    return a && a->live ? a : 0;
#else
    return stash.lookup(&tid);
#endif
}

static __always_inline void stash_drop(__u32 tid, struct sc_args *a)
{
#ifdef STASH_TASK_STORAGE
    a->live = 0;
#else
    stash.delete(&tid);
#endif
}
#endif /* ARGS_FROM_REGS */

static __always_inline void count_drop(__u32 reason)
{
    __u64 *v = drops.lookup(&reason);
    if (v)
        *v += 1;
}

static __always_inline int is_excluded(__u32 tgid)
{
    return excluded.lookup(&tgid) != 0;
}

static __always_inline void sc_put_rec(struct stash_entry *e, __u32 off, __u8 kind, __u8 idx,
                                    __u16 len)
{
    struct arg_rec *r = (struct arg_rec *)&e->ev.data[off];
    r->kind = kind;
    r->idx = idx;
    r->len = len;
    e->off = off + sizeof(struct arg_rec) + len;
    e->ev.hdr.nrec += 1;
}

static __always_inline void sc_read_int(struct stash_entry *e, __u8 i)
{
    __u32 off = e->off;
    if (off > DATA_MAX - sizeof(struct arg_rec) - 8) {
        e->ev.hdr.flags |= F_DATA_FULL;
        return;
    }
    __u64 v = e->args[i];
    __builtin_memcpy(&e->ev.data[off + sizeof(struct arg_rec)], &v, 8);
    sc_put_rec(e, off, K_INT, i, 8);
}

static __always_inline void sc_read_str(struct stash_entry *e, __u8 i, const void *uptr)
{
    __u32 off = e->off;
    if (off > DATA_MAX - sizeof(struct arg_rec) - STR_MAX) {
        e->ev.hdr.flags |= F_DATA_FULL | (1 << i);
        return;
    }
    long n = bpf_probe_read_user_str(&e->ev.data[off + sizeof(struct arg_rec)], STR_MAX, uptr);
    if (n < 0) {
        count_drop(D_READ);
        e->ev.hdr.flags |= F_READ_FAILED;
        e->unread |= 1 << i;
        return;
    }
    if (n >= STR_MAX)
        e->ev.hdr.flags |= (1 << i);
    sc_put_rec(e, off, K_STR, i, (__u16)(n & (STR_MAX * 2 - 1)));
}

/* `len` bytes of user memory at uptr, capped at `cap` (<= 255); kind tells the decoder
 * what they are. */
static __always_inline void read_ubytes(struct stash_entry *e, __u8 i, __u8 kind,
                                        const void *uptr, __u64 len, __u32 cap)
{
    __u32 off = e->off;
    if (off > DATA_MAX - sizeof(struct arg_rec) - 256) {
        e->ev.hdr.flags |= F_DATA_FULL | (1 << i);
        return;
    }
    if (!uptr || len == 0)
        return;
    __u32 n = len;
    if (len > cap) {
        n = cap;
        e->ev.hdr.flags |= (1 << i);
    }
    n &= 0xff;
    if (bpf_probe_read_user(&e->ev.data[off + sizeof(struct arg_rec)], n, uptr) < 0) {
        count_drop(D_READ);
        e->ev.hdr.flags |= F_READ_FAILED;
        return;
    }
    sc_put_rec(e, off, kind, i, (__u16)n);
}

static __always_inline void read_msgname(struct stash_entry *e, __u8 i, const void *umsg)
{
    struct {
        __u64 name;
        int namelen;
        int pad;
    } hdr = {};
    if (!umsg)
        return;
    if (bpf_probe_read_user(&hdr, sizeof(hdr), umsg) < 0) {
        count_drop(D_READ);
        e->ev.hdr.flags |= F_READ_FAILED;
        return;
    }
    if (hdr.namelen <= 0)
        return;
    read_ubytes(e, i, K_SOCKADDR, (const void *)hdr.name, (__u64)hdr.namelen, SOCKADDR_MAX);
}

static __always_inline void read_argv(struct stash_entry *e, __u8 i, const void *uargv)
{
    __u32 total = 0;
    if (!uargv)
        return;
    for (int j = 0; j < ARGV_MAX_ARGS; j++) {
        __u64 p = 0;
        if (bpf_probe_read_user(&p, sizeof(p), (const void *)((__u64)uargv + j * 8)) < 0) {
            count_drop(D_READ);
            e->ev.hdr.flags |= F_READ_FAILED;
            return;
        }
        if (!p)
            return;
        if (total >= ARGV_BYTES_MAX) {
            e->ev.hdr.flags |= F_ARGV_BYTES;
            return;
        }
        __u32 off = e->off;
        if (off > DATA_MAX - sizeof(struct arg_rec) - ARGV_ELEM_MAX) {
            e->ev.hdr.flags |= F_DATA_FULL | F_ARGV_BYTES;
            return;
        }
        long n = bpf_probe_read_user_str(&e->ev.data[off + sizeof(struct arg_rec)],
                                         ARGV_ELEM_MAX, (const void *)p);
        if (n < 0) {
            count_drop(D_READ);
            e->ev.hdr.flags |= F_READ_FAILED;
            return;
        }
        if (n >= ARGV_ELEM_MAX)
            e->ev.hdr.flags |= F_ARGV_BYTES;
        sc_put_rec(e, off, K_ARGV, i, (__u16)(n & (ARGV_ELEM_MAX * 2 - 1)));
        total += n;
    }
    /* ARGV_MAX_ARGS read: say so if more follow. */
    __u64 p = 0;
    if (bpf_probe_read_user(&p, sizeof(p), (const void *)((__u64)uargv + ARGV_MAX_ARGS * 8)) == 0
        && p)
        e->ev.hdr.flags |= F_ARGV_COUNT;
}

static __always_inline void sc_begin(struct stash_entry *e, __u32 nr)
{
    e->ev.hdr.type = nr;
    e->ev.hdr.flags = 0;
    e->ev.hdr.nrec = 0;
    e->off = 0;
    e->out_idx = 0xff;
    e->out_aux = 0;
    e->unread = 0;
}

/* The argument records the interest map asks for, from e->args. `early` (a constant)
 * says this is an enter-time read: only then is argv read, which keeps the exit
 * program's verification small. */
static __always_inline void sc_read_args(struct stash_entry *e, struct interest *in, int early)
{
    int argv_idx = -1;
#pragma unroll
    for (int i = 0; i < 6; i++) {
        __u8 kind = in->kind[i];
        __u16 aux = in->aux[i];
        const void *p = (const void *)e->args[i];
        if (kind == K_INT) {
            sc_read_int(e, i);
        } else if (kind == K_STR) {
            sc_read_str(e, i, p);
        } else if (kind == K_SOCKADDR) {
            read_ubytes(e, i, K_SOCKADDR, p, e->args[aux & 7], SOCKADDR_MAX);
        } else if (kind == K_UBYTES) {
            read_ubytes(e, i, K_UBYTES, p, aux, UBYTES_MAX);
        } else if (kind == K_MSGNAME) {
            read_msgname(e, i, p);
        } else if (kind == K_ARGV) {
            argv_idx = i;
        } else if (kind == K_SOCKADDR_OUT) {
            e->out_idx = i;
            e->out_aux = aux & 7;
        }
    }
    /* One argv per syscall at most; read outside the argument loop to keep it flat. */
    if (early && argv_idx >= 0 && argv_idx < 6)
        read_argv(e, argv_idx, (const void *)e->args[argv_idx]);
}

static __always_inline int sc_do_enter(struct sc_enter_ctx *ctx, __u8 need, int nargs)
{
    __u32 nr = (__u32)ctx->nr;
    if (nr >= EVT_MAX)
        return 0;
    struct interest *in = interest.lookup(&nr);
    if (!in || !(in->flags & need))
        return 0;
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u32 tgid = pid_tgid >> 32;
    __u32 tid = (__u32)pid_tgid;
    if (is_excluded(tgid))
        return 0;
    if (!(in->flags & SC_EARLY)) {
#if defined(ARGS_FROM_REGS)
        /* Read at exit from the registers (this enter is not even attached). */
#elif defined(STASH_TASK_STORAGE)
        struct sc_args *a = stash.task_storage_get(bpf_get_current_task_btf(), 0,
                                                   BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (!a) {
            count_drop(D_STASH_FULL);
            return 0;
        }
        a->nr = nr;
        a->live = 1;
        /* Only the arguments this tracepoint has: the kernel refuses to attach a program
         * that may read past the tracepoint's record. */
#pragma unroll
        for (int i = 0; i < 6; i++)
            a->args[i] = i < nargs ? ctx->args[i] : 0;
#else
        struct sc_args a = {};
        a.nr = nr;
#pragma unroll
        for (int i = 0; i < 6; i++)
            a.args[i] = i < nargs ? ctx->args[i] : 0;
        if (stash.update(&tid, &a) != 0)
            count_drop(D_STASH_FULL);
#endif
        return 0;
    }
    __u32 zero = 0;
    struct stash_entry *e = scratch.lookup(&zero);
    if (!e) {
        count_drop(D_SCRATCH);
        return 0;
    }
    sc_begin(e, nr);
#pragma unroll
    for (int i = 0; i < 6; i++)
        e->args[i] = i < nargs ? ctx->args[i] : 0;
    sc_read_args(e, in, 1);
    if (exec_stash.update(&tid, e) != 0)
        count_drop(D_STASH_FULL);
    return 0;
}

static __always_inline void fill_task(struct event_hdr *h)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u64 uid_gid = bpf_get_current_uid_gid();
    h->ts_ns = bpf_ktime_get_ns();
    h->cgroup_id = bpf_get_current_cgroup_id();
    h->pid = pid_tgid >> 32;
    h->tid = (__u32)pid_tgid;
    h->uid = (__u32)uid_gid;
    h->gid = uid_gid >> 32;
    h->version = EVENT_VERSION;
    h->reserved = 0;
    bpf_get_current_comm(&h->comm, sizeof(h->comm));
}

static __always_inline void sc_emit(struct stash_entry *e)
{
    __u64 size = sizeof(struct event_hdr) + e->off;
    if (size > sizeof(struct event))
        size = sizeof(struct event);
    /* Clang may test a copy of `size` and pass the original; the mask inside an asm
     * statement is a bound the verifier sees on the very register passed. */
    asm volatile("%0 &= 0x7fff" : "+r"(size));
    e->ev.hdr.size = size;
    if (events.ringbuf_output(&e->ev, size, 0) != 0)
        count_drop(D_RINGBUF);
}

/* No enter for this exit: count it unless it is expected. */
static __always_inline void sc_no_enter(struct interest *in, __u32 nr, long ret)
{
    /* The new task's return from clone (0) has no enter of its own: not a loss. */
    if (ret == 0 && (nr == NR_CLONE || nr == NR_CLONE3 || nr == NR_VFORK))
        return;
    /* A successful execveat was emitted from the sched exec (see on_sched_exec). */
    if (ret == 0 && nr == NR_EXECVEAT)
        return;
    if ((in->flags & SC_EMIT) && !is_excluded(bpf_get_current_pid_tgid() >> 32))
        count_drop(D_NO_ENTER);
}

/* The exit of an exec: its event was read at enter. */
static __always_inline void sc_exit_early(struct interest *in, __u32 nr, long ret)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct stash_entry *e = exec_stash.lookup(&tid);
    if (!e) {
        sc_no_enter(in, nr, ret);
        return;
    }
    if (e->ev.hdr.type == nr && (in->flags & SC_EMIT)) {
        fill_task(&e->ev.hdr);
        e->ev.hdr.res = ret;
        sc_emit(e);
    }
    exec_stash.delete(&tid);
}

static __always_inline int sc_do_exit(struct sc_exit_ctx *ctx, __u8 need)
{
    __u32 nr = (__u32)ctx->nr;
    if (nr >= EVT_MAX)
        return 0;
    struct interest *in = interest.lookup(&nr);
    if (!in || !(in->flags & need))
        return 0;
    long ret = ctx->ret;
    if (in->flags & SC_EARLY) {
        sc_exit_early(in, nr, ret);
        return 0;
    }
#ifdef ARGS_FROM_REGS
    if (!(in->flags & SC_EMIT))
        return 0;
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    if (is_excluded(pid_tgid >> 32))
        return 0;
    /* The new task's return from clone (0) is not an event, as with a stash (it has no
     * enter of its own there). */
    if (ret == 0 && (nr == NR_CLONE || nr == NR_CLONE3 || nr == NR_VFORK))
        return 0;
    struct sc_args ra;
    struct sc_args *a = &ra;
    if (regs_args(a) != 0 || a->nr != nr) {
        count_drop(D_NO_ENTER);
        return 0;
    }
    __u32 zero = 0;
    struct stash_entry *e = scratch.lookup(&zero);
    if (!e) {
        count_drop(D_SCRATCH);
        return 0;
    }
    sc_begin(e, nr);
#pragma unroll
    for (int i = 0; i < 6; i++)
        e->args[i] = a->args[i];
#else
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct sc_args *a = stash_get(tid);
    if (!a) {
        sc_no_enter(in, nr, ret);
        return 0;
    }
    if (a->nr != nr || !(in->flags & SC_EMIT)) {
        stash_drop(tid, a);
        return 0;
    }
    __u32 zero = 0;
    struct stash_entry *e = scratch.lookup(&zero);
    if (!e) {
        count_drop(D_SCRATCH);
        stash_drop(tid, a);
        return 0;
    }
    sc_begin(e, nr);
#pragma unroll
    for (int i = 0; i < 6; i++)
        e->args[i] = a->args[i];
    stash_drop(tid, a);
#endif
    fill_task(&e->ev.hdr);
    e->ev.hdr.res = ret;
    sc_read_args(e, in, 0);
    if (e->out_idx < 6 && ret >= 0) {
        /* accept: the kernel wrote the peer address; its length is behind args[aux]. */
        int len = 0;
        const void *lenp = (const void *)e->args[e->out_aux & 7];
        if (lenp && bpf_probe_read_user(&len, sizeof(len), lenp) == 0 && len > 0)
            read_ubytes(e, e->out_idx, K_SOCKADDR, (const void *)e->args[e->out_idx & 7],
                        (__u64)len, SOCKADDR_MAX);
    }
    sc_emit(e);
    return 0;
}

/* One enter program per argument count (sc_enter_0 .. sc_enter_6): see above. */
#define SC_ENTER(n) \
    int sc_enter_##n(struct sc_enter_ctx *ctx) { return sc_do_enter(ctx, SC_TP, n); }
SC_ENTER(0)
SC_ENTER(1)
SC_ENTER(2)
SC_ENTER(3)
SC_ENTER(4)
SC_ENTER(5)
SC_ENTER(6)
int sc_exit(struct sc_exit_ctx *ctx) { return sc_do_exit(ctx, SC_TP); }
int sc_enter_raw(struct sc_enter_ctx *ctx) { return sc_do_enter(ctx, SC_RAW, 6); }
int sc_exit_raw(struct sc_exit_ctx *ctx) { return sc_do_exit(ctx, SC_RAW); }

/* --- process lifecycle (sched tracepoints) ----------------------------------------- */

static __always_inline struct stash_entry *sched_begin(__u32 type)
{
    struct interest *in = interest.lookup(&type);
    if (!in || !(in->flags & SC_EMIT))
        return 0;
    if (is_excluded(bpf_get_current_pid_tgid() >> 32))
        return 0;
    __u32 zero = 0;
    struct stash_entry *e = scratch.lookup(&zero);
    if (!e) {
        count_drop(D_SCRATCH);
        return 0;
    }
    e->ev.hdr.type = type;
    e->ev.hdr.flags = 0;
    e->ev.hdr.nrec = 0;
    e->ev.hdr.res = 0;
    e->off = 0;
    fill_task(&e->ev.hdr);
    return e;
}

static __always_inline void put_sched_int(struct stash_entry *e, __u8 idx, __u64 v)
{
    __u32 off = e->off;
    if (off > DATA_MAX - sizeof(struct arg_rec) - 8)
        return;
    __builtin_memcpy(&e->ev.data[off + sizeof(struct arg_rec)], &v, 8);
    sc_put_rec(e, off, K_SCHED_INT, idx, 8);
}

/* Runs in the parent, inside its clone/fork syscall. The tracepoint names the new task
 * (a thread id) but not its process; a thread shares the parent's, which the clone
 * flags tell, and those are in the parent's saved registers (ARGS_FROM_REGS) or its
 * stash (clone/clone3 are stashed whenever fork events are wanted). */
int on_sched_fork(struct tracepoint__sched__sched_process_fork *args)
{
    struct stash_entry *e = sched_begin(EVT_SCHED_FORK);
    if (!e)
        return 0;
    __u32 child_tid = args->child_pid;
    __u32 child_pid = child_tid;
#ifdef ARGS_FROM_REGS
    struct sc_args ra;
    struct sc_args *s = regs_args(&ra) == 0 ? &ra : 0;
#else
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct sc_args *s = stash_get(tid);
#endif
    if (s) {
        __u64 flags = 0;
        if (s->nr == NR_CLONE)
            flags = s->args[0];
        else if (s->nr == NR_CLONE3)
            bpf_probe_read_user(&flags, sizeof(flags), (const void *)s->args[0]);
        if (flags & CLONE_THREAD_FLAG)
            child_pid = e->ev.hdr.pid;
    }
    put_sched_int(e, 0, child_pid);
    put_sched_int(e, 1, child_tid);
    sc_emit(e);
    return 0;
}

/* The sys_exit_execveat tracepoint does not fire when execveat succeeds (seen on 6.18:
 * fexecve of a memfd), so the exec emits a successful execveat itself, after the exec
 * event as an execve's exit would come; nothing can fail past that point. */
static __always_inline void flush_execveat(void)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct stash_entry *st = exec_stash.lookup(&tid);
    if (!st || st->ev.hdr.type != NR_EXECVEAT)
        return;
    __u32 nr = NR_EXECVEAT;
    struct interest *in = interest.lookup(&nr);
    if (in && (in->flags & SC_EMIT)) {
        fill_task(&st->ev.hdr);
        st->ev.hdr.res = 0;
        sc_emit(st);
    }
    exec_stash.delete(&tid);
}

/* An execve whose filename could not be read at enter takes it from the exec
 * tracepoint (for execve the kernel's filename is the very string passed). Seen in fresh
 * fork children: the string's page is not mapped in the child yet and a BPF read cannot
 * fault it in. argv has no such second source. */
static __always_inline void fill_execve_filename(const char *filename, __u32 tid)
{
    struct stash_entry *st = exec_stash.lookup(&tid);
    if (!st || st->ev.hdr.type != NR_EXECVE || !(st->unread & 1))
        return;
    __u32 off = st->off;
    if (off > DATA_MAX - sizeof(struct arg_rec) - STR_MAX)
        return;
    long n = bpf_probe_read_kernel_str(&st->ev.data[off + sizeof(struct arg_rec)], STR_MAX,
                                       filename);
    if (n <= 0)
        return;
    if (n >= STR_MAX)
        st->ev.hdr.flags |= 1;
    st->unread &= ~1;
    sc_put_rec(st, off, K_STR, 0, (__u16)(n & (STR_MAX * 2 - 1)));
}

int on_sched_exec(struct tracepoint__sched__sched_process_exec *args)
{
    __u32 pid = args->pid;
    __u32 old_pid = args->old_pid;
    if (pid != old_pid) {
        /* A non-leader thread exec'd and took the leader's id: move its execve stash so
         * the execve exit (which runs under the new id) finds it. */
        struct stash_entry *s = exec_stash.lookup(&old_pid);
        if (s) {
            exec_stash.update(&pid, s);
            exec_stash.delete(&old_pid);
        }
    }
    fill_execve_filename((const char *)args + (args->data_loc_filename & 0xffff), pid);
    struct stash_entry *e = sched_begin(EVT_SCHED_EXEC);
    if (!e) {
        flush_execveat();
        return 0;
    }
    __u32 off = e->off;
    if (off > DATA_MAX - sizeof(struct arg_rec) - STR_MAX) {
        flush_execveat();
        return 0;
    }
    __u16 loc = args->data_loc_filename & 0xffff;
    long n = bpf_probe_read_kernel_str(&e->ev.data[off + sizeof(struct arg_rec)], STR_MAX,
                                       (const void *)((char *)args + loc));
    if (n > 0) {
        if (n >= STR_MAX)
            e->ev.hdr.flags |= 1;
        sc_put_rec(e, off, K_SCHED_STR, 0, (__u16)(n & (STR_MAX * 2 - 1)));
    } else {
        count_drop(D_READ);
        e->ev.hdr.flags |= F_READ_FAILED;
    }
    put_sched_int(e, 1, old_pid);
    sc_emit(e);
    flush_execveat();
    return 0;
}

int on_sched_exit(struct tracepoint__sched__sched_process_exit *args)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    /* A thread that dies inside a syscall never reaches its exit: drop its stash. */
#if !defined(STASH_TASK_STORAGE) && !defined(ARGS_FROM_REGS)
    stash.delete(&tid);
#endif
    exec_stash.delete(&tid);
    struct stash_entry *e = sched_begin(EVT_SCHED_EXIT);
    if (!e)
        return 0;
#ifdef HAVE_GROUP_DEAD
    put_sched_int(e, 0, args->group_dead ? 1 : 0);
#endif
    sc_emit(e);
    return 0;
}
