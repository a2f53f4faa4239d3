// Opening the files of a model folder: only regular files. A FIFO, a device or a socket named like
// config.json would block the loader forever (opening a FIFO waits for a writer) or stream without end.
#pragma once
#include <cstdint>
#include <string>

namespace greater {

// Opens `path` read-only after checking that it is a regular file (symlinks followed). Returns the file
// descriptor (blocking, close-on-exec). Throws naming the file: missing, a dangling link, a link loop,
// not a regular file, unreadable.
int openRegularFile(const std::string& path);

// The whole content of the regular file `path`; refuses files over `maxBytes` (naming the limit).
std::string readRegularFile(const std::string& path, uint64_t maxBytes);

}  // namespace greater
