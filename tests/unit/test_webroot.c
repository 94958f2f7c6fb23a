/*
 * test_webroot - webroot mode never follows a symbolic link below the
 * webroot: the owner of the document root must not be able to make root
 * create or remove files elsewhere through .well-known or acme-challenge.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http01.h"
#include "unit.h"

#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define KEYAUTH TOKEN ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"

/* number of entries in DIR (recursively), -1 when it cannot be read */
static int count_entries(const char *dir)
{
	char path[2048];
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			n += count_entries(path);
	}
	closedir(d);
	return n;
}

struct fixture {
	char *tmp;
	char web[1024], target[1024];
};

static void fx_init(struct fixture *f)
{
	f->tmp = unit_tmpdir();
	snprintf(f->web, sizeof f->web, "%s/www", f->tmp);
	snprintf(f->target, sizeof f->target, "%s/elsewhere", f->tmp);
	ck_assert_int_eq(mkdir(f->web, 0755), 0);
	ck_assert_int_eq(mkdir(f->target, 0755), 0);
}

static void fx_free(struct fixture *f)
{
	unit_rmtree(f->tmp);
	free(f->tmp);
}

START_TEST(well_known_symlink_refused)
{
	struct fixture f;
	char link[1200];
	mc_err e;

	fx_init(&f);
	snprintf(link, sizeof link, "%s/.well-known", f.web);
	ck_assert_int_eq(symlink(f.target, link), 0);
	e.msg[0] = '\0';
	ck_assert_int_eq(mc_webroot_add(f.web, TOKEN, KEYAUTH, &e), -1);
	ck_assert_msg(strstr(e.msg, ".well-known") && strstr(e.msg, "symbolic link"), "message: %s", e.msg);
	ck_assert_msg(count_entries(f.target) == 0, "something was created in the link's target");
	fx_free(&f);
}
END_TEST

START_TEST(acme_challenge_symlink_refused)
{
	struct fixture f;
	char path[1200];
	mc_err e;

	fx_init(&f);
	snprintf(path, sizeof path, "%s/.well-known", f.web);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/.well-known/acme-challenge", f.web);
	ck_assert_int_eq(symlink(f.target, path), 0);
	e.msg[0] = '\0';
	ck_assert_int_eq(mc_webroot_add(f.web, TOKEN, KEYAUTH, &e), -1);
	ck_assert_msg(strstr(e.msg, "acme-challenge") && strstr(e.msg, "symbolic link"), "message: %s", e.msg);
	ck_assert_msg(count_entries(f.target) == 0, "something was created in the link's target");
	fx_free(&f);
}
END_TEST

/* a symbolic link in place of the token file is replaced, its target untouched */
START_TEST(token_symlink_replaced_not_followed)
{
	struct fixture f;
	char path[1200], victim[1200], *txt;
	struct stat st;
	mc_err e;

	fx_init(&f);
	snprintf(victim, sizeof victim, "%s/victim", f.target);
	unit_write(victim, "precious");
	snprintf(path, sizeof path, "%s/.well-known/acme-challenge", f.web);
	ck_assert_int_eq(mc_webroot_add(f.web, TOKEN, KEYAUTH, &e), 0);
	snprintf(path, sizeof path, "%s/.well-known/acme-challenge/%s", f.web, TOKEN);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink(victim, path), 0);
	ck_assert_msg(mc_webroot_add(f.web, TOKEN, KEYAUTH, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	txt = unit_read(victim, NULL);
	ck_assert_str_eq(txt, "precious");
	free(txt);
	fx_free(&f);
}
END_TEST

/* remove through a symlinked directory deletes nothing in the target */
START_TEST(remove_does_not_follow)
{
	struct fixture f;
	char path[1200], victim[1200];

	fx_init(&f);
	snprintf(path, sizeof path, "%s/acme-challenge", f.target);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(victim, sizeof victim, "%s/acme-challenge/%s", f.target, TOKEN);
	unit_write(victim, "precious");
	snprintf(path, sizeof path, "%s/.well-known", f.web);
	ck_assert_int_eq(symlink(f.target, path), 0);
	mc_webroot_remove(f.web, TOKEN);
	ck_assert_msg(access(victim, F_OK) == 0, "remove deleted a file through a symbolic link");
	fx_free(&f);
}
END_TEST

/* the ordinary case still works: directories made, file written, removed */
START_TEST(plain_webroot_works)
{
	struct fixture f;
	char path[1200], *txt;
	struct stat st;
	mc_err e;

	fx_init(&f);
	ck_assert_msg(mc_webroot_add(f.web, TOKEN, KEYAUTH, &e) == 0, "%s", e.msg);
	snprintf(path, sizeof path, "%s/.well-known/acme-challenge/%s", f.web, TOKEN);
	txt = unit_read(path, NULL);
	ck_assert_ptr_nonnull(txt);
	ck_assert_str_eq(txt, KEYAUTH);
	free(txt);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0644);
	snprintf(path, sizeof path, "%s/.well-known/acme-challenge", f.web);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0755);
	mc_webroot_remove(f.web, TOKEN);
	snprintf(path, sizeof path, "%s/.well-known/acme-challenge/%s", f.web, TOKEN);
	ck_assert_int_ne(access(path, F_OK), 0);
	fx_free(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("webroot");
	TCase *tc = unit_tcase("webroot");

	tcase_add_test(tc, well_known_symlink_refused);
	tcase_add_test(tc, acme_challenge_symlink_refused);
	tcase_add_test(tc, token_symlink_replaced_not_followed);
	tcase_add_test(tc, remove_does_not_follow);
	tcase_add_test(tc, plain_webroot_works);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
