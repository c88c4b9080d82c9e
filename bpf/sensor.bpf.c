/* lanner's syscall sensor, compiled by bcc (sensor/capture.py).
 *
 * With ARGS_FROM_REGS (kernels with BTF: sensor/capture.py tries it first) a syscall is
 * traced by its exit tracepoint alone: sc_exit takes the number and the arguments it needs
 * from the task's saved user registers (bpf_task_pt_regs), which a syscall leaves as they
 * were at entry, so there is no enter program and no stash for it. Only exec (SC_EARLY
 * below) keeps an enter program.
 *
 * Cost, measured on an open+close loop pinned to one CPU (kernel 6.18 in a VM, 2 CPUs; the
 * ring buffer emptied unread from the other CPU, so every event is written and none
 * dropped; medians of 11 interleaved rounds): empty programs on the same two tracepoints
 * (the floor) add 7-9% to the loop; this program 265-320 ns per event above that floor,
 * where it took 560-590 before the changes below. Of those ~300 ns (perf samples of the
 * loop): the path read of openat ~23% (~140 ns an open: user-memory checks), the clock
 * ~19% (rdtsc is slow on this VM), the ring buffer ~17%, the task and register pointers
 * ~6%, the rest the code itself, mostly cache misses on the lines it touches. What went:
 * the task's ids, credentials, comm and cgroup as loads at BTF offsets instead of four
 * helper calls (~90 ns); the registers as loads instead of a bpf_probe_read_kernel of the
 * whole frame (~35 ns); excluded pids compared inline instead of a hash lookup (~30 ns);
 * a reader wakeup (a self-IPI) per record while the reader keeps up (rb_flags); integer-
 * only events written in place instead of through the scratch buffer (SC_FIXED); the
 * cgroup id on syscalls (a process fact: process events keep it). With the ring buffer
 * full the drop path now costs ~120 ns per event above the floor instead of ~500: an
 * event is dropped before it is built (ring_refuses).
 *
 * Otherwise one pair of generic programs serves every syscall. sc_enter saves the six raw
 * argument registers (a few dozen bytes) in a per-thread slot (task-local storage, or a hash keyed
 * by thread id when STASH_TASK_STORAGE is not defined); sc_exit takes them back, builds the
 * event in a per-CPU scratch buffer (paths, sockaddrs and the like are read from user
 * memory then: the pointers are still valid, the task has not returned to user space) and
 * copies it into the ring buffer. Per-syscall tracepoints are attached for the enabled
 * syscalls only (no cost for the others; raw_syscalls, which runs on every syscall, never
 * is: a syscall without a tracepoint of its own is one the kernel lacks). What to read per syscall is data (struct interest, filled from Python), not
 * code, so adding a syscall does not touch this file.
 *
 * Why not read everything at enter: an event record is tens of KB, and writing it into a
 * hash map at every enter then looking it up and deleting it at exit cost more than the
 * rest of the sensor together (an open+close loop ran 2.6-2.8x slower that way). Exception,
 * flagged SC_EARLY by Python: execve/execveat, whose filename and argv live in the address
 * space a successful exec throws away. Those are read at enter into the full record, kept
 * in a separate hash (exec_stash) until the exit.
 *
 * Kernel structs are read only at offsets from the running kernel's own BTF (passed as
 * LANNER_OFF_* flags by sensor/capture.py and sensor/btf.py), and the x86_64 register
 * frame; the rest is tracepoint fields, helpers and user memory.
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
/* Syscall numbers (LANNER_NR_EXECVE...) come from sensor/syscalls.py's rows, as -D flags. */
#if !defined(LANNER_NR_CLONE) || !defined(LANNER_NR_CLONE3) || !defined(LANNER_NR_VFORK) \
    || !defined(LANNER_NR_EXECVE) || !defined(LANNER_NR_EXECVEAT)
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
    __u16 unread; /* bit i: string argument i could not be read; bit 8+i: argv (argv.h) */
    struct event ev;
};

BPF_RINGBUF_OUTPUT(events, RINGBUF_PAGES);
BPF_ARRAY(interest, struct interest, EVT_MAX);
BPF_HASH(excluded, __u32, __u8, 1024); /* past cpu_state.excl's EXCL_INLINE */
BPF_PERCPU_ARRAY(drops, __u64, D_NREASONS);
BPF_PERCPU_ARRAY(scratch, struct stash_entry, 1);
BPF_PERCPU_ARRAY(cpu_state, struct cpu_state, 1);
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

/* The calling task's fields at offsets from the running kernel's BTF (sensor/capture.py
 * passes them as LANNER_OFF_* flags, never from the header tree, which may be another
 * kernel's), loaded straight through the BTF-typed task pointer: the verifier checks each
 * load against that same BTF, and a load is a plain move, where each of the helpers it
 * replaces (pid_tgid, uid_gid, cgroup_id, comm) is a call. Without them: the helpers. */
#if defined(LANNER_OFF_TASK_PID) && defined(LANNER_OFF_TASK_TGID) \
    && defined(LANNER_OFF_TASK_COMM) && defined(LANNER_OFF_TASK_CRED) \
    && defined(LANNER_OFF_CRED_UID) && defined(LANNER_OFF_CRED_GID) \
    && defined(LANNER_OFF_TASK_CGROUPS) && defined(LANNER_OFF_CSS_SET_DFL_CGRP) \
    && defined(LANNER_OFF_CGROUP_KN) && defined(LANNER_OFF_KERNFS_NODE_ID)
#define TASK_FROM_BTF 1
#define TASK_LOAD(type, base, off) (*(const type *)((const char *)(base) + (off)))
#endif

/* The task pointer fill_task_of and regs_args take (0 without BTF task fields). */
static __always_inline const void *current_task(void)
{
#if defined(TASK_FROM_BTF) || defined(ARGS_FROM_REGS)
    return (const void *)bpf_get_current_task_btf();
#else
    return 0;
#endif
}

/* tgid << 32 | tid, as bpf_get_current_pid_tgid gives it. */
static __always_inline __u64 task_pid_tgid(const void *task)
{
#ifdef TASK_FROM_BTF
    return (__u64)TASK_LOAD(__u32, task, LANNER_OFF_TASK_TGID) << 32
           | TASK_LOAD(__u32, task, LANNER_OFF_TASK_PID);
#else
    return bpf_get_current_pid_tgid();
#endif
}

#ifdef ARGS_FROM_REGS
/* The calling thread's syscall number and its first `n` arguments (the rest 0) from its
 * saved user registers (x86_64: orig_ax, then di si dx r10 r8 r9; struct pt_regs is the
 * x86_64 entry frame, the same in every kernel). bpf_task_pt_regs gives a BTF-typed
 * pointer, so each register is a plain load, not a bpf_probe_read_kernel of the whole
 * frame, and only the cache lines of the registers used are touched. 0 on success. */
static __always_inline int regs_args(const void *task, struct sc_args *a, __u32 n)
{
    struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs((struct task_struct *)task);
    if (!regs)
        return -1;
    a->nr = (__u32)regs->orig_ax;
    a->args[0] = n > 0 ? regs->di : 0;
    a->args[1] = n > 1 ? regs->si : 0;
    a->args[2] = n > 2 ? regs->dx : 0;
    a->args[3] = n > 3 ? regs->r10 : 0;
    a->args[4] = n > 4 ? regs->r8 : 0;
    a->args[5] = n > 5 ? regs->r9 : 0;
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

/* A handful of excluded tgids (the sensor itself, a bench driver) are compared inline:
 * a hash lookup at every event cost more than the rest of the filtering together. */
/* This CPU's state. A syscall event looks it up once and passes it on (the *_on
 * functions): each lookup is a helper call, and an event used to make four. */
static __always_inline struct cpu_state *this_cpu(void)
{
    __u32 zero = 0;
    return cpu_state.lookup(&zero);
}

static __always_inline int is_excluded_on(struct cpu_state *c, __u32 tgid)
{
    if (!c)
        return 0;
    __u32 n = c->nexcl;
    if (n == EXCL_HASH)
        return excluded.lookup(&tgid) != 0;
#pragma unroll
    for (int i = 0; i < EXCL_INLINE; i++) {
        if (i >= n)
            break;
        if (c->excl[i] == tgid)
            return 1;
    }
    return 0;
}

static __always_inline int is_excluded(__u32 tgid)
{
    return is_excluded_on(this_cpu(), tgid);
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

/* execve's argv (and what else exec reads from user memory at enter): argv.h. */
#include "argv.h"

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

/* The header's task part: time, ids, credentials (the real uid and gid, as
 * bpf_get_current_uid_gid gives them) and comm; with `cgroup` (a constant) also the
 * cgroup v2 id (task->cgroups->dfl_cgrp->kn->id, as bpf_get_current_cgroup_id walks it),
 * else 0. The cgroup id is a process fact, sent with the process events (fork, exec, exit,
 * execve/execveat): its three dependent loads cost ~4% of a syscall event and nothing
 * reads it per syscall. `task` is current_task(). */
static __always_inline void fill_task_of(struct event_hdr *h, const void *task, int cgroup)
{
    h->ts_ns = bpf_ktime_get_ns();
    h->version = EVENT_VERSION;
    h->reserved = 0;
    h->cgroup_id = 0;
#ifdef TASK_FROM_BTF
    h->pid = TASK_LOAD(__u32, task, LANNER_OFF_TASK_TGID);
    h->tid = TASK_LOAD(__u32, task, LANNER_OFF_TASK_PID);
    const void *cred = TASK_LOAD(void *, task, LANNER_OFF_TASK_CRED);
    h->uid = TASK_LOAD(__u32, cred, LANNER_OFF_CRED_UID);
    h->gid = TASK_LOAD(__u32, cred, LANNER_OFF_CRED_GID);
    if (cgroup) {
        const void *cset = TASK_LOAD(void *, task, LANNER_OFF_TASK_CGROUPS);
        const void *cgrp = TASK_LOAD(void *, cset, LANNER_OFF_CSS_SET_DFL_CGRP);
        const void *kn = TASK_LOAD(void *, cgrp, LANNER_OFF_CGROUP_KN);
        h->cgroup_id = TASK_LOAD(__u64, kn, LANNER_OFF_KERNFS_NODE_ID);
    }
    /* comm is 16 bytes (TASK_COMM_LEN): two words, as the event's comm is 8-aligned. */
    __u64 *comm = (__u64 *)h->comm;
    comm[0] = TASK_LOAD(__u64, task, LANNER_OFF_TASK_COMM);
    comm[1] = TASK_LOAD(__u64, task, LANNER_OFF_TASK_COMM + 8);
#else
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u64 uid_gid = bpf_get_current_uid_gid();
    if (cgroup)
        h->cgroup_id = bpf_get_current_cgroup_id();
    h->pid = pid_tgid >> 32;
    h->tid = (__u32)pid_tgid;
    h->uid = (__u32)uid_gid;
    h->gid = uid_gid >> 32;
    bpf_get_current_comm(&h->comm, sizeof(h->comm));
#endif
}

/* For process events and exec exits: everything, the cgroup id included. */
static __always_inline void fill_task(struct event_hdr *h)
{
    fill_task_of(h, current_task(), 1);
}

/* How a record is committed. By default the ring buffer wakes its reader whenever the
 * reader has caught up, i.e. for about every event while the reader keeps pace: a self-IPI
 * each (arch_irq_work_raise, a VM exit on a virtual machine), which was a third of the
 * ring-buffer cost here. So records are committed without a wakeup, and the reader is
 * woken at most once per cpu_state.wake_ns per CPU (forced, so a reader asleep with records
 * already waiting is woken too); between those it finds the records when it next looks
 * (its poll timeout bounds the wait). `now` is the event's ts_ns. */
static __always_inline __u64 rb_flags_on(struct cpu_state *cs, __u64 now)
{
    if (!cs || !cs->wake_ns)
        return 0; /* the ring buffer's own rule */
    if (now - cs->last_wake < cs->wake_ns)
        return BPF_RB_NO_WAKEUP;
    cs->last_wake = now;
    return BPF_RB_FORCE_WAKEUP;
}

/* Whether an event built now would find no room. While the reader is behind, the ring
 * buffer stays full and every record is refused; building one first (a path read, the
 * clock) only to drop it made the drop path dearer than a capture. So after a refusal, a
 * CPU first asks for RING_ROOM bytes (a record it discards at once, which readers skip)
 * and drops the event unbuilt while even that fails. */
#define RING_ROOM 256
static __always_inline int ring_refuses_on(struct cpu_state *cs)
{
    if (!cs || !cs->ring_full)
        return 0;
    void *probe = events.ringbuf_reserve(RING_ROOM);
    if (!probe)
        return 1;
    events.ringbuf_discard(probe, BPF_RB_NO_WAKEUP);
    cs->ring_full = 0;
    return 0;
}

static __always_inline void sc_emit_on(struct stash_entry *e, struct cpu_state *cs)
{
    __u64 size = sizeof(struct event_hdr) + e->off;
    if (size > sizeof(struct event))
        size = sizeof(struct event);
    /* Clang may test a copy of `size` and pass the original; the mask inside an asm
     * statement is a bound the verifier sees on the very register passed. */
    asm volatile("%0 &= 0x7fff" : "+r"(size));
    e->ev.hdr.size = size;
    int full = events.ringbuf_output(&e->ev, size, rb_flags_on(cs, e->ev.hdr.ts_ns)) != 0;
    if (cs && cs->ring_full != full)
        cs->ring_full = full;
    if (full)
        count_drop(D_RINGBUF);
}

static __always_inline void sc_emit(struct stash_entry *e)
{
    sc_emit_on(e, this_cpu());
}

/* No enter for this exit: count it unless it is expected. */
static __always_inline void sc_no_enter(struct interest *in, __u32 nr, long ret)
{
    /* The new task's return from clone (0) has no enter of its own: not a loss. */
    if (ret == 0 && (nr == LANNER_NR_CLONE || nr == LANNER_NR_CLONE3 || nr == LANNER_NR_VFORK))
        return;
    /* A successful execveat was emitted from the sched exec (see on_sched_exec). */
    if (ret == 0 && nr == LANNER_NR_EXECVEAT)
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
    if (e->ev.hdr.type == nr && (in->flags & SC_EMIT)
        && !((in->flags & SC_OK_ONLY) && ret < 0)) {
        fill_task(&e->ev.hdr);
        e->ev.hdr.res = ret;
        sc_emit(e);
    }
    exec_stash.delete(&tid);
}

/* Whether the interest's emit_if (if any) lets these arguments through. */
static __always_inline int emit_if_ok(struct interest *in, struct sc_args *a)
{
    __u32 n = in->emit_if_n;
    if (!n)
        return 1;
    __u8 idx = in->emit_if_idx;
    __u32 v = 0;
#pragma unroll
    for (int i = 0; i < 6; i++)
        if (i == idx)
            v = (__u32)a->args[i];
#pragma unroll
    for (int i = 0; i < EMIT_IF_MAX; i++)
        if (i < n && in->emit_if_val[i] == v)
            return 1;
    return 0;
}

/* An SC_FIXED event of N integer records (N a constant), written in place: reserved at
 * its exact size, filled, submitted. What an all-integer event (close, dup...) costs
 * otherwise is building it in the scratch buffer and copying it over. */
static __always_inline void emit_fixed_n(struct sc_args *a, __u32 nr, long ret,
                                         const void *task, struct cpu_state *cs,
                                         const __u32 n)
{
    const __u32 size = sizeof(struct event_hdr) + n * (sizeof(struct arg_rec) + 8);
    struct event_hdr *h = events.ringbuf_reserve(size);
    if (!h) {
        if (cs)
            cs->ring_full = 1;
        count_drop(D_RINGBUF);
        return;
    }
    fill_task_of(h, task, 0);
    h->res = ret;
    h->type = nr;
    h->size = size;
    h->flags = 0;
    h->nrec = n;
    /* Records are 12 bytes, so each value is 4-aligned: written as two 32-bit halves. */
    __u32 *w = (__u32 *)(h + 1);
#pragma unroll
    for (__u32 i = 0; i < n; i++) {
        struct arg_rec *r = (struct arg_rec *)&w[i * 3];
        r->kind = K_INT;
        r->idx = i;
        r->len = 8;
        w[i * 3 + 1] = (__u32)a->args[i];
        w[i * 3 + 2] = (__u32)(a->args[i] >> 32);
    }
    events.ringbuf_submit(h, rb_flags_on(cs, h->ts_ns));
}

static __always_inline void emit_fixed(struct interest *in, struct sc_args *a, __u32 nr,
                                       long ret, const void *task, struct cpu_state *cs)
{
    switch (in->nfixed) {
    case 0: emit_fixed_n(a, nr, ret, task, cs, 0); break;
    case 1: emit_fixed_n(a, nr, ret, task, cs, 1); break;
    case 2: emit_fixed_n(a, nr, ret, task, cs, 2); break;
    case 3: emit_fixed_n(a, nr, ret, task, cs, 3); break;
    case 4: emit_fixed_n(a, nr, ret, task, cs, 4); break;
    case 5: emit_fixed_n(a, nr, ret, task, cs, 5); break;
    default: emit_fixed_n(a, nr, ret, task, cs, 6); break;
    }
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
    /* Cheapest tests first: nothing below is paid for an event that is not wanted. */
    if (!(in->flags & SC_EMIT) || ((in->flags & SC_OK_ONLY) && ret < 0))
        return 0;
    const void *task = current_task();
    struct cpu_state *cs = this_cpu();
    if (is_excluded_on(cs, task_pid_tgid(task) >> 32))
        return 0;
    /* The new task's return from clone (0) is not an event, as with a stash (it has no
     * enter of its own there). */
    if (ret == 0 && (nr == LANNER_NR_CLONE || nr == LANNER_NR_CLONE3 || nr == LANNER_NR_VFORK))
        return 0;
    struct sc_args ra;
    struct sc_args *a = &ra;
    if (regs_args(task, a, in->nregs) != 0 || a->nr != nr) {
        count_drop(D_NO_ENTER);
        return 0;
    }
    if (!emit_if_ok(in, a))
        return 0;
    if (in->flags & SC_FIXED) {
        emit_fixed(in, a, nr, ret, task, cs);
        return 0;
    }
    if (ring_refuses_on(cs)) {
        count_drop(D_RINGBUF);
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
    if (a->nr != nr || !(in->flags & SC_EMIT) || ((in->flags & SC_OK_ONLY) && ret < 0)
        || !emit_if_ok(in, a)) {
        stash_drop(tid, a);
        return 0;
    }
    const void *task = current_task();
    struct cpu_state *cs = this_cpu();
    if (in->flags & SC_FIXED) {
        emit_fixed(in, a, nr, ret, task, cs);
        stash_drop(tid, a);
        return 0;
    }
    if (ring_refuses_on(cs)) {
        count_drop(D_RINGBUF);
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
    fill_task_of(&e->ev.hdr, task, 0);
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
    sc_emit_on(e, cs);
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
    struct sc_args *s = regs_args(current_task(), &ra, 1) == 0 ? &ra : 0; /* clone flags */
#else
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct sc_args *s = stash_get(tid);
#endif
    if (s) {
        __u64 flags = 0;
        if (s->nr == LANNER_NR_CLONE)
            flags = s->args[0];
        else if (s->nr == LANNER_NR_CLONE3)
            bpf_probe_read_user(&flags, sizeof(flags), (const void *)s->args[0]);
        if (flags & CLONE_THREAD_FLAG)
            child_pid = e->ev.hdr.pid;
    }
    put_sched_int(e, 0, child_pid);
    put_sched_int(e, 1, child_tid);
    sc_emit(e);
    return 0;
}

/* bcc rewrites map methods (m.lookup()...) in this file only: included files use these. */
static __always_inline struct stash_entry *exec_stash_get(__u32 tid)
{
    return exec_stash.lookup(&tid);
}
static __always_inline void exec_stash_put(__u32 tid, struct stash_entry *e)
{
    exec_stash.update(&tid, e);
}
static __always_inline void exec_stash_del(__u32 tid) { exec_stash.delete(&tid); }
static __always_inline struct interest *interest_get(__u32 type) { return interest.lookup(&type); }

/* The exec: sched_process_exec and what it completes (exec.h). */
#include "exec.h"
int on_sched_exec(struct tracepoint__sched__sched_process_exec *args)
{
    return sched_exec(args->pid, args->old_pid,
                      (const char *)args + (args->data_loc_filename & 0xffff));
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
