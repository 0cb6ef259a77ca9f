#include "agent/ops/privs.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
agent_privs_check_root(uid_t euid, const char *refuse_env, cdc_err *err)
{
    /* Only "1" turns the rule on: "0", "" or anything else leaves it off, as unset does. */
    if (euid != 0 || refuse_env == NULL || strcmp(refuse_env, "1") != 0)
        return 0;
    return cdc_err_set(err, CDC_E_CONFIG, "refusing to run as root inside the container "
                       "image; run as the image's cdcagent user (uid 10001) or unset "
                       AGENT_PRIVS_REFUSE_ROOT_ENV);
}

int
agent_privs_refuse_root(cdc_err *err)
{
    return agent_privs_check_root(geteuid(), getenv(AGENT_PRIVS_REFUSE_ROOT_ENV), err);
}
