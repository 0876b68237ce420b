/* kpi: being written (issue 4). */
#include "kpi.h"
