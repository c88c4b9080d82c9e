/* Part of sensor.bpf.c, included from it after the maps and helpers it uses (not a
 * standalone header): the exec tracepoint's work (on_sched_exec, in sensor.bpf.c, calls
 * sched_exec), the execve/execveat completions it makes, and what it reads of the new
 * program from the task. Maps only through sensor.bpf.c's accessors (exec_stash_get...):
 * bcc rewrites map methods in the main file alone. */
/* The sys_exit_execveat tracepoint does not fire when execveat succeeds (seen on 6.18:
 * fexecve of a memfd), so the exec emits a successful execveat itself, after the exec
 * event as an execve's exit would come; nothing can fail past that point. */
static __always_inline void flush_execveat(void)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct stash_entry *st = exec_stash_get(tid);
    if (!st || st->ev.hdr.type != LANNER_NR_EXECVEAT)
        return;
    __u32 nr = LANNER_NR_EXECVEAT;
    struct interest *in = interest_get(nr);
    if (in && (in->flags & SC_EMIT)) {
        fill_task(&st->ev.hdr);
        st->ev.hdr.res = 0;
        sc_emit(st);
    }
    exec_stash_del(tid);
}

/* An execve whose filename could not be read at enter takes it from the exec
 * tracepoint (for execve the kernel's filename is the very string passed). Seen in fresh
 * fork children: the string's page is not mapped in the child yet and a BPF read cannot
 * fault it in. argv's second source is the new program's argument block
 * (fill_execve_argv). */
static __always_inline void fill_execve_filename(const char *filename, __u32 tid)
{
    struct stash_entry *st = exec_stash_get(tid);
    if (!st || st->ev.hdr.type != LANNER_NR_EXECVE || !(st->unread & 1))
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

/* Task fields, at offsets from the running kernel's BTF (sensor/btf.py passes them as
 * LANNER_OFF_* flags; never from the header tree, which may be another kernel's). Without
 * them nothing is read and the process table asks /proc instead. */
static __always_inline const void *read_kptr(const void *base, __u32 off)
{
    const void *p = 0;
    if (!base || bpf_probe_read_kernel(&p, sizeof(p), (const char *)base + off) != 0)
        return 0;
    return p;
}

#if defined(LANNER_OFF_TASK_SIGNAL) && defined(LANNER_OFF_SIGNAL_TTY) \
    && defined(LANNER_OFF_TTY_INDEX) && defined(LANNER_OFF_TTY_DRIVER) \
    && defined(LANNER_OFF_DRIVER_MAJOR) && defined(LANNER_OFF_DRIVER_MINOR_START)
/* The controlling tty as /proc/<pid>/stat's tty_nr (and Falco's proc.tty): the device
 * number (driver major, minor_start + index) in the kernel's new_encode_dev form; 0 for
 * none, -1 when a read failed. */
static __always_inline __s64 task_tty_nr(const void *task)
{
    const void *signal = read_kptr(task, LANNER_OFF_TASK_SIGNAL);
    if (!signal)
        return -1;
    const void *tty = 0;
    if (bpf_probe_read_kernel(&tty, sizeof(tty), (const char *)signal + LANNER_OFF_SIGNAL_TTY))
        return -1;
    if (!tty)
        return 0;
    const void *driver = read_kptr(tty, LANNER_OFF_TTY_DRIVER);
    int index = 0, major = 0, minor_start = 0;
    if (!driver
        || bpf_probe_read_kernel(&index, sizeof(index), (const char *)tty + LANNER_OFF_TTY_INDEX)
        || bpf_probe_read_kernel(&major, sizeof(major),
                                 (const char *)driver + LANNER_OFF_DRIVER_MAJOR)
        || bpf_probe_read_kernel(&minor_start, sizeof(minor_start),
                                 (const char *)driver + LANNER_OFF_DRIVER_MINOR_START))
        return -1;
    __u32 minor = (__u32)(minor_start + index);
    return (minor & 0xff) | ((__u32)major << 8) | ((__u64)(minor & ~0xffu) << 12);
}
#define HAVE_TASK_TTY 1
#endif

#if defined(LANNER_OFF_TASK_CRED) && defined(LANNER_OFF_CRED_CAP_PERMITTED) \
    && defined(LANNER_OFF_CRED_CAP_EFFECTIVE)
#define HAVE_TASK_CAPS 1
#endif


/* The environment the new program starts with: exec has just copied envp's strings to the
 * top of its stack, one NUL-terminated after another between mm->env_start and env_end,
 * so one bounded read takes them all (pages the kernel itself just wrote: resident). Read
 * here rather than at execve's enter, string by string from the caller's envp: that costs
 * two helper calls per variable, can miss pages a fresh fork child has not mapped yet, and
 * a second loop after argv's multiplied the enter program's verifier states past the
 * kernel's limit (73k instructions verified, >1M with it: refused). ENV_BYTES_MAX bounds
 * the read; a longer environment is cut there and flagged (bit 2 of hdr.flags, which
 * decode.py reports as "env" truncated). Measured on this program's own clock (6.18, 2
 * busy cores, 7 interleaved rounds, medians; ~4.0 us a run without the environment): a
 * 2.5 KB environment +0-1.4 us, a 24 KB one cut at 4/8/16 KiB +0.4/+2.4/+3.0 us, against
 * 0.6-2 ms for the fork+exec+wait of /bin/true itself (no difference above its noise);
 * decoding it in Python +15 us (2.5 KB) to +29 us (8 KiB) per exec. 8 KiB holds a usual
 * environment and a pod's service variables for a few dozen services. */
#ifndef ENV_BYTES_MAX
#define ENV_BYTES_MAX 8192 /* a power of two */
#endif

#if defined(LANNER_OFF_TASK_MM) && defined(LANNER_OFF_MM_ENV_START) \
    && defined(LANNER_OFF_MM_ENV_END)
#define HAVE_TASK_ENV 1
static __always_inline void put_env(struct stash_entry *e, const void *task)
{
    const void *mm = read_kptr(task, LANNER_OFF_TASK_MM);
    __u64 start = 0, end = 0;
    if (!mm || bpf_probe_read_kernel(&start, 8, (const char *)mm + LANNER_OFF_MM_ENV_START)
        || bpf_probe_read_kernel(&end, 8, (const char *)mm + LANNER_OFF_MM_ENV_END)
        || end < start) {
        count_drop(D_READ);
        e->ev.hdr.flags |= F_READ_FAILED | (1 << 2);
        return;
    }
    __u32 off = e->off;
    if (off > DATA_MAX - sizeof(struct arg_rec) - ENV_BYTES_MAX) {
        e->ev.hdr.flags |= F_DATA_FULL | (1 << 2);
        return;
    }
    __u64 len = end - start;
    if (len > ENV_BYTES_MAX) {
        len = ENV_BYTES_MAX;
        e->ev.hdr.flags |= 1 << 2;
    }
    if (len) {
        /* 1..ENV_BYTES_MAX as a range the verifier sees on the very register passed. */
        asm volatile("%0 -= 1; %0 &= %1; %0 += 1" : "+r"(len) : "i"(ENV_BYTES_MAX - 1));
        if (bpf_probe_read_user(&e->ev.data[off + sizeof(struct arg_rec)], len,
                                (const void *)start) != 0) {
            count_drop(D_READ);
            e->ev.hdr.flags |= F_READ_FAILED | (1 << 2);
            return;
        }
    }
    sc_put_rec(e, off, K_ENV, 2, (__u16)(len & (ENV_BYTES_MAX * 2 - 1)));
}
#endif

/* An exec whose argv could not be read at enter (argv.h marks it in the stash's unread)
 * takes the whole of it from the new program: exec has just copied argv's strings onto
 * its stack, one NUL-terminated after another between mm->arg_start and arg_end, pages
 * the kernel itself wrote. One bounded read into the stashed event, as a K_ARGV_BLOCK
 * record that replaces what the enter read of that argument; the execve (execveat) event
 * then carries its argv as if the enter had read it. Only for those execs: every other one
 * costs the stash lookup fill_execve_filename makes anyway and a test. The block is cut at
 * ARGV_BYTES_MAX (F_ARGV_BYTES); the decoder keeps ARGV_MAX_ARGS strings of it and flags
 * more (F_ARGV_COUNT), so the limits read as at enter. */
_Static_assert((ARGV_BYTES_MAX & (ARGV_BYTES_MAX - 1)) == 0,
               "ARGV_BYTES_MAX must be a power of two");
#if defined(LANNER_OFF_TASK_MM) && defined(LANNER_OFF_MM_ARG_START) \
    && defined(LANNER_OFF_MM_ARG_END)
static __always_inline void fill_execve_argv(__u32 tid)
{
    struct stash_entry *st = exec_stash_get(tid);
    if (!st || !(st->unread & (UNREAD_ARGV * 0x3f)))
        return;
    __u8 idx = 0;
#pragma unroll
    for (int i = 0; i < 6; i++)
        if (st->unread & (UNREAD_ARGV << i))
            idx = i;
    const void *mm = read_kptr((const void *)bpf_get_current_task(), LANNER_OFF_TASK_MM);
    __u64 start = 0, end = 0;
    if (!mm || bpf_probe_read_kernel(&start, 8, (const char *)mm + LANNER_OFF_MM_ARG_START)
        || bpf_probe_read_kernel(&end, 8, (const char *)mm + LANNER_OFF_MM_ARG_END)
        || end <= start) {
        count_drop(D_READ);
        return;
    }
    __u32 off = st->off;
    if (off > DATA_MAX - sizeof(struct arg_rec) - ARGV_BYTES_MAX) {
        st->ev.hdr.flags |= F_DATA_FULL | F_ARGV_BYTES;
        return;
    }
    __u16 cut = 0;
    __u64 len = end - start;
    if (len > ARGV_BYTES_MAX) {
        len = ARGV_BYTES_MAX;
        cut = F_ARGV_BYTES;
    }
    /* 1..ARGV_BYTES_MAX as a range the verifier sees on the very register passed. */
    asm volatile("%0 -= 1; %0 &= %1; %0 += 1" : "+r"(len) : "i"(ARGV_BYTES_MAX - 1));
    if (bpf_probe_read_user(&st->ev.data[off + sizeof(struct arg_rec)], len,
                            (const void *)start) != 0) {
        count_drop(D_READ);
        return;
    }
    /* The enter's partial read, if any, is superseded: so are its cut flags. */
    st->ev.hdr.flags = (st->ev.hdr.flags & ~(F_ARGV_COUNT | F_ARGV_BYTES)) | cut;
    st->unread &= ~(UNREAD_ARGV * 0x3f);
    sc_put_rec(st, off, K_ARGV_BLOCK, idx, (__u16)(len & (ARGV_BYTES_MAX * 2 - 1)));
}
#define HAVE_EXEC_ARGV 1
#endif

/* sched exec fields 2..5 (sensor/decode.py's _SCHED): the environment, the tty, then the
 * permitted and effective capabilities the new program runs with (exec has committed its
 * credentials by now; the inheritable set is the caller's, unchanged by exec). Each only
 * where the kernel's BTF gave its offsets. */
static __always_inline void put_task_facts(struct stash_entry *e)
{
    const void *task = (const void *)bpf_get_current_task();
#ifdef HAVE_TASK_ENV
    put_env(e, task);
#endif
#ifdef HAVE_TASK_TTY
    __s64 tty = task_tty_nr(task);
    if (tty >= 0)
        put_sched_int(e, 3, (__u64)tty);
    else
        count_drop(D_READ);
#endif
#ifdef HAVE_TASK_CAPS
    const void *cred = read_kptr(task, LANNER_OFF_TASK_CRED);
    __u64 prm = 0, eff = 0;
    if (cred
        && !bpf_probe_read_kernel(&prm, 8, (const char *)cred + LANNER_OFF_CRED_CAP_PERMITTED)
        && !bpf_probe_read_kernel(&eff, 8, (const char *)cred + LANNER_OFF_CRED_CAP_EFFECTIVE)) {
        put_sched_int(e, 4, prm);
        put_sched_int(e, 5, eff);
    } else {
        count_drop(D_READ);
    }
#endif
}

/* The work of on_sched_exec (sensor.bpf.c: bcc declares a tracepoint's context struct
 * only for programs in the main file, so the program itself stays there). `filename` is
 * the tracepoint's copy of the kernel's name for the program. */
static __always_inline int sched_exec(__u32 pid, __u32 old_pid, const char *filename)
{
    if (pid != old_pid) {
        /* A non-leader thread exec'd and took the leader's id: move its execve stash so
         * the execve exit (which runs under the new id) finds it. */
        struct stash_entry *s = exec_stash_get(old_pid);
        if (s) {
            exec_stash_put(pid, s);
            exec_stash_del(old_pid);
        }
    }
    fill_execve_filename(filename, pid);
#ifdef HAVE_EXEC_ARGV
    fill_execve_argv(pid);
#endif
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
    long n = bpf_probe_read_kernel_str(&e->ev.data[off + sizeof(struct arg_rec)], STR_MAX,
                                       filename);
    if (n > 0) {
        if (n >= STR_MAX)
            e->ev.hdr.flags |= 1;
        sc_put_rec(e, off, K_SCHED_STR, 0, (__u16)(n & (STR_MAX * 2 - 1)));
    } else {
        count_drop(D_READ);
        e->ev.hdr.flags |= F_READ_FAILED;
    }
    put_sched_int(e, 1, old_pid);
    put_task_facts(e);
    sc_emit(e);
    flush_execveat();
    return 0;
}
