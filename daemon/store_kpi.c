/* store_kpi: being written (issue 4). */
#include "store.h"
