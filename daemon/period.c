/* period: being written (issue 4). */
#include "period.h"
