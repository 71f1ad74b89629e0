/* zanshin delete */
#include <errno.h>

#include "cli.h"

ZS_VERB(delete)
{
	if (argc > 0 && (argv[0][0] == '-' && argv[0][1] == 'h')) {
		return 0;
	}
	return zs_make_error(err, ENOSYS, "delete: not implemented yet");
}
