/* version.h - the taskfleet release. */
#ifndef TF_VERSION_H
#define TF_VERSION_H

#define TF_VERSION "0.1.0"

#endif /* TF_VERSION_H */
