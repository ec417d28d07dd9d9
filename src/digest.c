/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <openssl/evp.h>

#include "digest.h"
#include "log.h"
#include "xmalloc.h"

struct digest {
	EVP_MD_CTX	*content;
	EVP_MD_CTX	*header;
	int		 want_content;
	int		 header_done;
	char		 last;		/* the byte before this piece */
};

struct digest *
digest_new(void)
{
	struct digest *d = xcalloc(1, sizeof *d);

	d->content = EVP_MD_CTX_new();
	d->header = EVP_MD_CTX_new();
	if (d->content == NULL || d->header == NULL)
		fatalx("out of memory for a digest");
	return d;
}

void
digest_free(struct digest *d)
{
	if (d == NULL)
		return;
	EVP_MD_CTX_free(d->content);
	EVP_MD_CTX_free(d->header);
	free(d);
}

void
digest_start(struct digest *d, int content)
{
	d->want_content = content;
	if (content)
		EVP_DigestInit_ex(d->content, EVP_sha256(), NULL);
	EVP_DigestInit_ex(d->header, EVP_sha256(), NULL);
	d->header_done = 0;
	d->last = '\n';
}

void
digest_feed(struct digest *d, const char *buf, size_t len)
{
	size_t i;

	if (d->want_content)
		EVP_DigestUpdate(d->content, buf, len);
	if (d->header_done)
		return;
	for (i = 0; i < len; i++) {
		if (buf[i] == '\n' && d->last == '\n') {
			d->header_done = 1;
			break;
		}
		d->last = buf[i];
	}
	EVP_DigestUpdate(d->header, buf, i);
}

void
digest_end(struct digest *d, unsigned char content[DIGEST_LEN],
    unsigned char header[DIGEST_LEN])
{
	unsigned len;

	if (d->want_content)
		EVP_DigestFinal_ex(d->content, content, &len);
	EVP_DigestFinal_ex(d->header, header, &len);
}
