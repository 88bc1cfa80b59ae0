// Gives Swift zlib (Debian's zlib1g-dev): inflate/deflate for PNG, crc32 for checksums.
#include <zlib.h>
