// System-library shim: libjpeg-turbo's libjpeg API (Debian: libjpeg62-turbo-dev).
#include <stdio.h>
#include <jpeglib.h>
