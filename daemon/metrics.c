/* metrics: being written (issue 4). */
#include "metrics.h"
