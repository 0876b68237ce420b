/* api_kpi: being written (issue 4). */
#include "api_internal.h"
