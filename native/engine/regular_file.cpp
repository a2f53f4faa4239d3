#include "engine/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace greater {

namespace {

const char* kindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

}  // namespace

int openRegularFile(const std::string& path) {
  // O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting; fstat then refuses it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    struct stat link {};
    if (err == ENOENT && ::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode))
      throw std::runtime_error(path + ": is a symbolic link to a file that does not exist (a dangling link)");
    if (err == ELOOP) throw std::runtime_error(path + ": symbolic links loop (ELOOP): the link never reaches a file");
    if (err == ENOENT) throw std::runtime_error(path + ": no such file");
    throw std::runtime_error(path + ": cannot be opened (" + std::strerror(err) + ")");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error(path + ": cannot be read (" + std::strerror(err) + ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error(path + ": is " + kindOf(st.st_mode) + ", not a regular file; model files must be regular files");
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

std::string readRegularFile(const std::string& path, uint64_t maxBytes) {
  const int fd = openRegularFile(path);
  struct stat st {};
  ::fstat(fd, &st);
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > maxBytes) {
    ::close(fd);
    throw std::runtime_error(path + ": " + std::to_string(size) + " bytes, more than the " + std::to_string(maxBytes) +
                             " bytes such a file may have");
  }
  std::string text(size, '\0');
  uint64_t done = 0;
  while (done < size) {
    const ssize_t got = ::read(fd, text.data() + done, size - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      const int err = errno;
      ::close(fd);
      throw std::runtime_error(path + ": reading failed" + (got < 0 ? std::string(" (") + std::strerror(err) + ")" : " (the file shrank while reading)"));
    }
    done += static_cast<uint64_t>(got);
  }
  ::close(fd);
  return text;
}

}  // namespace greater
