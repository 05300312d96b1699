// The smallest init: says hello and exits 0. Boot checks use it to see that the kernel
// still starts init when other boot programs are broken.

#include "tessera.hpp"

long main(unsigned long) {
    tessera::print("hello from init\n");
    return 0;
}
