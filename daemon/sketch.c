/* sketch: being written (issue 4). */
#include "sketch.h"
