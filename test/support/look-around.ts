/** What one sandbox leaves behind, and what another tries to reach of it (the between-runs and between-sessions suites). */
import { py } from "./requests.js";

/**
 * Python that tries to find, in its own run, what `leaveBehind` left in another: it returns what
 * it reached ("reached") or the errno that stopped it, for each kind of object.
 */
export const LOOK_AROUND = (marker: string, key: number) => py`
  import ctypes, os, signal, socket

  libc = ctypes.CDLL(None, use_errno=True)

  def errno_of(result):
      return "reached" if result >= 0 else ctypes.get_errno()

  def look_around():
      others = []
      for pid in range(2, 4096):
          try:
              os.kill(pid, 0)
              others.append(pid)
          except ProcessLookupError:
              pass
          except PermissionError:
              others.append(pid)
      try:
          os.kill(-1, signal.SIGKILL)
          signalled = "reached"
      except OSError as e:
          signalled = e.errno
      s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
      try:
          s.connect("\0pyexec-${marker}")
          abstract = "reached"
      except OSError as e:
          abstract = e.errno
      finally:
          s.close()
      return {
          "processes": others,
          "kill(-1)": signalled,
          "files": sorted(os.listdir(".")),
          "abstract socket": abstract,
          "shm": errno_of(libc.shmget(${key}, 0, 0)),
          "sem": errno_of(libc.semget(${key}, 0, 0)),
          "msg": errno_of(libc.msgget(${key}, 0)),
          "mq": errno_of(libc.mq_open(b"/pyexec-${marker}", os.O_RDONLY)),
          "env": os.environ.get("PYEXEC_${marker}"),
      }
`;

/** What nothing else may reach: one of each kind, left behind (the run returns while they live). */
export const LEAVE_BEHIND = (marker: string, key: number) => py`
  import ctypes, os, socket, threading, time

  libc = ctypes.CDLL(None, use_errno=True)
  IPC_CREAT = 0o1000
  kept = []

  def leave_behind():
      open("left-${marker}", "w").write("left behind")
      s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
      s.bind("\0pyexec-${marker}")
      s.listen()
      kept.append(s)
      os.environ["PYEXEC_${marker}"] = "left behind"
      threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
      return {
          "shm": libc.shmget(${key}, 4096, IPC_CREAT | 0o666) >= 0,
          "sem": libc.semget(${key}, 1, IPC_CREAT | 0o666) >= 0,
          "msg": libc.msgget(${key}, IPC_CREAT | 0o666) >= 0,
          "mq": libc.mq_open(b"/pyexec-${marker}", os.O_CREAT | os.O_RDWR, 0o666, None) >= 0 or ctypes.get_errno(),
      }
`;

export const NOTHING_REACHED = {
  processes: [],
  "kill(-1)": 3, // ESRCH: no process it may signal but itself
  files: [],
  "abstract socket": 111, // ECONNREFUSED: no such name in its network namespace
  shm: 2, // ENOENT
  sem: 2,
  msg: 2,
  mq: 2,
  env: null,
};

/** POSIX message queues cannot even be made: RLIMIT_MSGQUEUE is 0 (nsjail.cfg). */
export const CREATED = { shm: true, sem: true, msg: true, mq: 24 }; // EMFILE
