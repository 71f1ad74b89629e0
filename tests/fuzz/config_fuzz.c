/* libFuzzer target for an OCI config.json (lib/config.c over lib/json.c):
 * the input is the file's text, parsed as the runtime parses a Bundle's
 * config.json before it creates or restores anything. Built by
 * `make fuzz` (mk/fuzz.mk); tests/fuzz/run.sh runs it from a seed corpus
 * made of `zanshin spec`'s output and the test suites' configs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zanshin/config.h"
#include "zanshin/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	struct zs_config *cfg = NULL;
	zs_error_t err = NULL;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (zs_config_parse(buf, "config.json", &cfg, &err) == 0)
		zs_config_free(cfg);
	zs_error_release(&err);
	free(buf);
	return 0;
}
