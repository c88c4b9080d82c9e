/* Part of sensor.bpf.c, included from it after the maps and helpers it uses (not a
 * standalone header): reading execve's argv from user memory at enter. */

/* The scratch buffer is a per-CPU array, whose values the kernel refuses above 32 KiB
 * (PCPU_MIN_UNIT_SIZE): that bounds DATA_MAX. The same size keeps an exec_stash element
 * within one order-3 allocation, as the 16 KiB record already took. */
_Static_assert(sizeof(struct stash_entry) <= 32768, "DATA_MAX too large for a per-CPU map value");
/* A record's length is masked with ARGV_ELEM_MAX * 2 - 1, which keeps every length up to
 * ARGV_ELEM_MAX only for a power of two. */
_Static_assert((ARGV_ELEM_MAX & (ARGV_ELEM_MAX - 1)) == 0, "ARGV_ELEM_MAX must be a power of two");

/* argv, one K_ARGV record per element: at most ARGV_MAX_ARGS elements and ARGV_ELEM_MAX
 * bytes per element, and no element started once ARGV_BYTES_MAX bytes were read (the one
 * that crosses it is kept, so argv takes at most ARGV_BYTES_MAX + ARGV_ELEM_MAX of the
 * record). Every cut is flagged (F_ARGV_COUNT, F_ARGV_BYTES): decode.py names argv in
 * RawEvent.truncated and rules see proc.is_args_truncated. Costs nothing past what a
 * program really passes: the loop ends at argv's NULL and each string read at its NUL.
 * Every read has the same constant size: a size worked out from the bytes read so far
 * makes the verifier track that sum exactly, and its states stop converging (verified
 * instructions then grew faster than ARGV_MAX_ARGS). */
static __always_inline void read_argv_elems(struct stash_entry *e, __u8 i, const void *uargv)
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
        if (n >= ARGV_ELEM_MAX) {
            /* A full buffer is a cut string unless its NUL fell exactly at the end. */
            char last = 1;
            bpf_probe_read_user(&last, 1, (const void *)(p + ARGV_ELEM_MAX - 1));
            if (last)
                e->ev.hdr.flags |= F_ARGV_BYTES;
        }
        sc_put_rec(e, off, K_ARGV, i, (__u16)(n & (ARGV_ELEM_MAX * 2 - 1)));
        total += n;
    }
    /* ARGV_MAX_ARGS read: say so if more follow. */
    __u64 p = 0;
    if (bpf_probe_read_user(&p, sizeof(p), (const void *)((__u64)uargv + ARGV_MAX_ARGS * 8)) == 0
        && p)
        e->ev.hdr.flags |= F_ARGV_COUNT;
}

/* An argv that failed to read, or read nothing, is marked in e->unread (UNREAD_ARGV << i):
 * a fresh fork child has not mapped the pages of its literals yet, which a BPF read cannot
 * fault in. The exec, if it succeeds, then takes argv from the new program's argument
 * block (exec.h: fill_execve_argv). */
#define UNREAD_ARGV 0x100
static __always_inline void read_argv(struct stash_entry *e, __u8 i, const void *uargv)
{
    __u32 off = e->off;
    __u16 failed_before = e->ev.hdr.flags & F_READ_FAILED;
    e->ev.hdr.flags &= ~F_READ_FAILED;
    read_argv_elems(e, i, uargv);
    /* A read that failed, or read nothing (also an empty argv, which exec replaces with
     * ""). Told here, after the loop, rather than at its returns: a store at each of them
     * cost the verifier ~3k more instructions per enter program, this ~0.3k. */
    if (e->off == off || (e->ev.hdr.flags & F_READ_FAILED))
        e->unread |= UNREAD_ARGV << i;
    e->ev.hdr.flags |= failed_before;
}
