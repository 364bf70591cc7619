// System-library shim: libpng 1.6 (Debian: libpng-dev) for decoding, and zlib (zlib1g-dev, which libpng-dev
// depends on) for the PNG writer's deflate stream and CRCs.
#include <png.h>
#include <zlib.h>
