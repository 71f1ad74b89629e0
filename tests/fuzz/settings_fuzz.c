/* libFuzzer target for zanshin.json (lib/settings.c): the input is the
 * file's text, parsed as every command of the runtime parses it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zanshin/error.h"
#include "zanshin/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	struct zs_settings s;
	zs_error_t err = NULL;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	zs_settings_parse(buf, "zanshin.json", &s, &err);
	zs_error_release(&err);
	free(buf);
	return 0;
}
