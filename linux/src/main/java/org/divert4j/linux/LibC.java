package org.divert4j.linux;

/**
 * The C library functions the Linux backends and test beds call, bound by JNR-FFI. Pointers are
 * passed as raw {@code long} addresses of memory this backend owns (direct buffers), so calls
 * marshal nothing and allocate nothing. Only {@link Native} uses this interface.
 *
 * <p>No function here takes six arguments: with jnr-ffi 2.3.4 (jffi 1.4.3) six-argument calls reach
 * the C function with a wrong argument (sendto and mmap fail with EINVAL), so addressed sends use
 * sendmsg, and netlink sends go to the kernel, the default destination, with send.
 */
public interface LibC {
  int socket(int domain, int type, int protocol);

  int bind(int fd, long addr, int len);

  int connect(int fd, long addr, int len);

  int listen(int fd, int backlog);

  int accept4(int fd, long addr, long addrLen, int flags);

  int setsockopt(int fd, int level, int name, long value, int len);

  int getsockopt(int fd, int level, int name, long value, long lenAddr);

  long sendmsg(int fd, long msg, int flags);

  long send(int fd, long buf, long len, int flags);

  long recvmsg(int fd, long msg, int flags);

  long recv(int fd, long buf, long len, int flags);

  int recvmmsg(int fd, long msgvec, int vlen, int flags, long timeout);

  int poll(long fds, long nfds, int timeoutMs);

  int close(int fd);

  int dup3(int oldFd, int newFd, int flags);

  int setns(int fd, int nstype);

  int open(String path, int flags);

  int eventfd(int initval, int flags);

  long read(int fd, long buf, long count);

  long write(int fd, long buf, long count);

  int capget(long header, long data);

  int capset(long header, long data);

  int ioctl(int fd, long request, long arg);

  int flock(int fd, int operation);
}
