/* PLACEHOLDER: being written. */
#include "lobo.h"
