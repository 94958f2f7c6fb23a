/*
 * sandbox - privilege dropping, Landlock (raw system calls) and a seccomp
 * filter of the calls a network or key process has no business making.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<linux/landlock.h>)
#include <linux/landlock.h>
#define HAVE_LANDLOCK_H 1
#endif
#endif

#ifdef HAVE_SECCOMP
#include <seccomp.h>
#endif

#include <openssl/crypto.h>

#include "b64url.h"
#include "conf.h"
#include "privdrop.h"
#include "responder.h"
#include "sandbox.h"
#include "xalloc.h"

int mc_sandbox_identity(uid_t *uid, gid_t *gid, mc_err *e)
{
	return mc_priv_identity(uid, gid, e);
}

void mc_sandbox_harden(const char *name)
{
	prctl(PR_SET_DUMPABLE, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_NAME, name);
}

int mc_sandbox_drop(uid_t uid, gid_t gid, const char *name, mc_err *e)
{
	if (chdir("/") < 0)
		return mc_err_set(e, "chdir /: %s", strerror(errno));
	if (mc_priv_become(uid, gid, e) < 0)
		return -1;
	mc_sandbox_harden(name);
	return 0;
}

int mc_sandbox_drop_caps(mc_err *e)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	int cap;

	/* only root may shrink the bounding set; anyone else has nothing in it to use */
	for (cap = 0; geteuid() == 0 && cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return mc_err_set(e, "dropping capability %d: %s", cap, strerror(errno));
	memset(data, 0, sizeof data);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return mc_err_set(e, "capset: %s", strerror(errno));
	return 0;
}

/* ---- Landlock ---- */

#if defined(HAVE_LANDLOCK_H) && defined(SYS_landlock_create_ruleset)
#define LL_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_WRITE (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | \
		  LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR | \
		  LANDLOCK_ACCESS_FS_MAKE_REG)
#define LL_ALL (LANDLOCK_ACCESS_FS_EXECUTE | LL_READ | LL_WRITE | LANDLOCK_ACCESS_FS_MAKE_CHAR | \
		LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | \
		LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM)

static int ll_add(int rfd, const char *path, uint64_t access, mc_err *e)
{
	struct landlock_path_beneath_attr pb;
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0)
		return 0; /* a path this machine does not have: nothing to allow */
	memset(&pb, 0, sizeof pb);
	pb.parent_fd = fd;
	pb.allowed_access = access;
	if (syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0) {
		int err = errno;
		close(fd);
		/* a file (not a directory) may carry only file rights */
		if (err == EINVAL)
			return 0;
		return mc_err_set(e, "landlock: %s: %s", path, strerror(err));
	}
	close(fd);
	return 0;
}

#if defined(__SANITIZE_ADDRESS__)
/* the sanitizers write their reports to log_path: they must still be able to */
static void sanitizer_dirs(int rfd)
{
	static const char *const vars[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS" };
	size_t i;
	mc_err e;

	for (i = 0; i < 2; i++) {
		const char *o = getenv(vars[i]), *p = o ? strstr(o, "log_path=") : NULL;
		char dir[4096], *slash;

		if (!p)
			continue;
		snprintf(dir, sizeof dir, "%.*s", (int)strcspn(p + 9, ":"), p + 9);
		slash = strrchr(dir, '/');
		if (!slash)
			continue;
		*slash = '\0';
		ll_add(rfd, dir, LL_READ | LL_WRITE, &e);
	}
}
#endif

int mc_sandbox_landlock(const char *const *read, const char *const *write, mc_err *e)
{
	struct landlock_ruleset_attr ra;
	int rfd, abi;
	size_t i;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return 1;
	memset(&ra, 0, sizeof ra);
	ra.handled_access_fs = LL_ALL;
	rfd = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof ra, 0);
	if (rfd < 0)
		return 1;
	for (i = 0; read && read[i]; i++)
		if (ll_add(rfd, read[i], LL_READ, e) < 0)
			goto fail;
	for (i = 0; write && write[i]; i++)
		if (ll_add(rfd, write[i], LL_READ | LL_WRITE, e) < 0)
			goto fail;
#if defined(__SANITIZE_ADDRESS__)
	sanitizer_dirs(rfd);
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_landlock_restrict_self, rfd, 0) < 0) {
		mc_err_set(e, "landlock: %s", strerror(errno));
		goto fail;
	}
	close(rfd);
	return 0;
fail:
	close(rfd);
	return -1;
}
#else
int mc_sandbox_landlock(const char *const *read, const char *const *write, mc_err *e)
{
	(void)read;
	(void)write;
	(void)e;
	return 1;
}
#endif

/* ---- seccomp ---- */

#ifdef HAVE_SECCOMP
/* calls neither process makes: denied with EPERM (a kill would hide what went wrong) */
static const char *const denied[] = {
	"execve", "execveat", "fork", "vfork", "mount", "umount2", "pivot_root", "chroot",
	"swapon", "swapoff", "reboot", "kexec_load", "kexec_file_load", "init_module",
	"finit_module", "delete_module", "bpf", "perf_event_open", "keyctl", "add_key",
	"request_key", "unshare", "setns", "setuid", "setgid", "setreuid", "setregid",
	"setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid", "capset", "acct",
	"settimeofday", "clock_settime", "adjtimex", "iopl", "ioperm", "open_by_handle_at",
	"name_to_handle_at", "userfaultfd", "quotactl", "syslog", "vhangup", "process_vm_writev",
#if !defined(__SANITIZE_ADDRESS__)
	/* LeakSanitizer stops the world with ptrace from a cloned tracer */
	"ptrace", "process_vm_readv",
#endif
	NULL
};

int mc_sandbox_seccomp(int kind, mc_err *e)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	size_t i;
	int rc = 0;

	if (!ctx)
		return mc_err_set(e, "seccomp_init failed");
	for (i = 0; rc == 0 && denied[i]; i++) {
		int nr = seccomp_syscall_resolve_name(denied[i]);
		if (nr != __NR_SCMP_ERROR)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
#if !defined(__SANITIZE_ADDRESS__)
	/* threads, never processes; clone3 hides its flags, so glibc falls back to clone */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
#endif
	if (rc == 0 && kind == MC_SANDBOX_KEY)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_NE, AF_UNIX));
	if (rc == 0 && kind == MC_SANDBOX_NET)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, AF_PACKET));
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0)
		return mc_err_set(e, "seccomp: %s", strerror(-rc));
	return 0;
}
#else
int mc_sandbox_seccomp(int kind, mc_err *e)
{
	(void)kind;
	(void)e;
	return 1;
}
#endif

void mc_sandbox_wipe_secrets(void *arg)
{
	mc_config *cfg = arg;
	mc_buf raw;

	if (!cfg->acme_eab_hmac_key || !cfg->acme_eab_hmac_key[0])
		return;
	mc_buf_init(&raw);
	if (mc_b64url_decode(cfg->acme_eab_hmac_key, &raw) == 0 && raw.len > 0)
		mc_responder_scrub(raw.data, raw.len);
	mc_buf_cleanse(&raw);
	if (mc_responder_scrub(cfg->acme_eab_hmac_key, strlen(cfg->acme_eab_hmac_key)) < 0)
		mc_warn("cannot search this process's memory for secrets (/proc/self/mem)");
	/* short keys are not searched for: this copy at least */
	OPENSSL_cleanse(cfg->acme_eab_hmac_key, strlen(cfg->acme_eab_hmac_key));
}
