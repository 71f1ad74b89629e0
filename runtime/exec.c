/* zanshin exec */
#include <errno.h>

#include "cli.h"

ZS_VERB(exec)
{
	if (argc > 0 && (argv[0][0] == '-' && argv[0][1] == 'h')) {
		return 0;
	}
	return zs_make_error(err, ENOSYS, "exec: not implemented yet");
}
