/* zanshin start */
#include <errno.h>

#include "cli.h"

ZS_VERB(start)
{
	if (argc > 0 && (argv[0][0] == '-' && argv[0][1] == 'h')) {
		return 0;
	}
	return zs_make_error(err, ENOSYS, "start: not implemented yet");
}
