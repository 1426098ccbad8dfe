package org.divert4j.filter;

import java.io.ByteArrayOutputStream;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Arrays;

/**
 * Turns a {@link Program} into a hidden class ({@link Compiled}) whose one method is the program
 * itself: each test becomes a few instructions and its success and failure targets become branches,
 * so the JIT compiles a filter into straight code with its literals, offsets and masks as constants
 * (the interpreter loop of {@link FastPath} reads them from arrays and dispatches per test). A
 * planned test of a plain header field of at most 32 bits is inlined whole (one anchor load, one
 * buffer read through {@link Bytes}, a shift, masks, an unsigned compare), and so is one of the
 * fields {@link Values} computes; every other test calls back into {@code Program.fastTest}, which
 * gives the interpreter's verdict.
 *
 * <p>Not compiled, and left to the interpreter: a program without tests, one whose code would pass
 * HotSpot's {@code HugeMethodLimit} (8000 bytes; a larger method is never JIT-compiled), and any
 * program when the system property {@value #SWITCH} is {@code false}. A class that fails to define
 * (it never should: FilterCompilerTest compiles every field and operator) also falls back to the
 * interpreter. The hidden class is unloaded with its filter.
 */
final class FilterCompiler {
  /** The system property that turns compilation off ({@code -Ddivert4j.filter.compile=false}). */
  static final String SWITCH = "divert4j.filter.compile";

  private static final int MAX_CODE = 8000;
  private static final String NAME = "org/divert4j/filter/CompiledFilter";
  private static final String PROGRAM = "org/divert4j/filter/Program";
  private static final String BUFFER = "java/nio/ByteBuffer";
  private static final String LAYOUT = "org/divert4j/filter/Layout";
  private static final String CONTEXT = "org/divert4j/filter/FilterContext";
  private static final String VALUES = "org/divert4j/filter/Values";
  private static final String DESCRIPTOR =
      "(L" + PROGRAM + ";L" + BUFFER + ";L" + LAYOUT + ";L" + CONTEXT + ";)Z";

  // locals of the compiled method
  private static final int P = 1;
  private static final int B = 2;
  private static final int L = 3;
  private static final int C = 4;
  private static final int ANCHORS = 5;
  private static final int V = 6; // a long: 6 and 7
  private static final int AT = 8;

  private final Program program;
  private final FastPath plan;
  private final ClassFileWriter cf = new ClassFileWriter();
  private final ByteArrayOutputStream code = new ByteArrayOutputStream();
  private final int[] labels; // tests 0..n-1, then ACCEPT, then REJECT
  private int[] fixups = new int[64]; // pairs: where the offset goes, the branch's own position
  private int[] fixupTargets = new int[32];
  private int fixupCount;

  private FilterCompiler(Program program, FastPath plan) {
    this.program = program;
    this.plan = plan;
    labels = new int[program.n + 2];
  }

  /**
   * @return the compiled program, or null where it is left to the interpreter (see the class
   *     comment)
   */
  static Compiled compile(Program program, FastPath plan) {
    if (program.n == 0 || !Boolean.parseBoolean(System.getProperty(SWITCH, "true"))) {
      return null;
    }
    byte[] bytes = new FilterCompiler(program, plan).classFile();
    if (bytes == null) {
      return null;
    }
    try {
      MethodHandles.Lookup h = MethodHandles.lookup().defineHiddenClass(bytes, true);
      return (Compiled)
          h.findConstructor(h.lookupClass(), MethodType.methodType(void.class)).invoke();
    } catch (Throwable e) { // a VerifyError or any other LinkageError: the interpreter decides
      return null;
    }
  }

  /** The class file, for tests that look at it, or null if its code would be too large. */
  static byte[] classFile(Program program, FastPath plan) {
    return new FilterCompiler(program, plan).classFile();
  }

  private byte[] classFile() {
    int n = program.n;
    // prologue: anchors = l.anchors; v = 0; at = 0 (every label then has the same frame)
    aload(L);
    u1(0xb4);
    u2(cf.field(LAYOUT, "anchors", "[I"));
    u1(0x3a);
    u1(ANCHORS);
    u1(0x09); // lconst_0
    u1(0x37);
    u1(V);
    u1(0x03); // iconst_0
    u1(0x36);
    u1(AT);
    if (program.start != n - 1) {
      branch(0xa7, program.start);
    }
    for (int i = n - 1; i >= 0; i--) { // every jump goes to a lower index: forward branches only
      labels[i] = code.size();
      test(i);
      if (code.size() > MAX_CODE) {
        return null;
      }
    }
    labels[n] = code.size();
    u1(0x04); // iconst_1
    u1(0xac); // ireturn
    labels[n + 1] = code.size();
    u1(0x03);
    u1(0xac);
    byte[] bytes = code.toByteArray();
    for (int k = 0; k < fixupCount; k++) {
      int at = fixups[2 * k];
      int offset = labels[fixupTargets[k]] - fixups[2 * k + 1];
      bytes[at] = (byte) (offset >> 8);
      bytes[at + 1] = (byte) offset;
    }
    return cf.build(
        NAME,
        "org/divert4j/filter/Compiled",
        "matches",
        DESCRIPTOR,
        bytes,
        6,
        9,
        frames(),
        frameCount());
  }

  private void test(int i) {
    int x = i * FastPath.IS;
    int y = i * FastPath.LS;
    int[] ints = plan.ints;
    long[] longs = plan.longs;
    int kind = ints[x];
    int succ = program.succ[i];
    int fail = program.fail[i];
    if (kind == FastPath.LOAD && ints[x + 3] <= 4) {
      aload(ANCHORS);
      pushInt(ints[x + 1]);
      u1(0x2e); // iaload
      u1(0x36);
      u1(AT);
      u1(0x15);
      u1(AT);
      branch(0x9b, fail); // iflt: the header is absent (S65)
      if (longs[y + 3] != 0) {
        branch(0xa7, lessAccepted(ints[x + 5]) ? succ : fail);
        return;
      }
      aload(B);
      u1(0x15);
      u1(AT);
      pushInt(ints[x + 2]);
      u1(0x60); // iadd
      int w = ints[x + 3];
      String read = w == 1 ? "u8" : w == 2 ? "u16" : "u32";
      invokestatic(
          "org/divert4j/filter/Bytes",
          read,
          w == 4 ? "(L" + BUFFER + ";I)J" : "(L" + BUFFER + ";I)I");
      if (w != 4) {
        u1(0x85); // i2l
      }
      if (ints[x + 4] != 0) {
        pushInt(ints[x + 4]);
        u1(0x7d); // lushr
      }
      pushLong(longs[y]);
      u1(0x7f); // land
      if (longs[y + 1] != 0) {
        pushLong(longs[y + 1]);
        u1(0x81); // lor
      }
      compare(i, longs[y + 2], succ, fail);
    } else if (kind > FastPath.LOAD && kind < FastPath.OTHER) {
      value(kind, ints[x + 6], ints[x + 7]);
      u1(0x37);
      u1(V);
      if (canBeMissing(kind)) {
        u1(0x16);
        u1(V);
        pushLong(Program.MISSING);
        u1(0x94); // lcmp
        branch(0x99, fail); // ifeq: the packet lacks the field (S65)
      }
      if (longs[y + 3] != 0) {
        branch(0xa7, lessAccepted(ints[x + 5]) ? succ : fail);
        return;
      }
      u1(0x16);
      u1(V);
      pushLong(longs[y]);
      u1(0x7f);
      compare(i, longs[y + 2], succ, fail);
    } else { // not planned, an IPv6 address, or a field Values.value computes
      aload(P);
      pushInt(i);
      aload(B);
      aload(L);
      aload(C);
      u1(0xb6); // invokevirtual
      u2(cf.method(PROGRAM, "fastTest", "(IL" + BUFFER + ";L" + LAYOUT + ";L" + CONTEXT + ";)Z"));
      branch(0x99, fail);
      branch(0xa7, succ);
    }
  }

  /** The value on the stack is a long; compares it unsigned with the literal and branches. */
  private void compare(int i, long literal, int succ, int fail) {
    pushLong(literal);
    invokestatic("java/lang/Long", "compareUnsigned", "(JJ)I");
    // the branch taken when the operator rejects: EQ ifne, NE ifeq, LT ifge, LE ifgt, GT ifle, GE
    // iflt
    int[] rejectWhen = {0x9a, 0x99, 0x9c, 0x9d, 0x9e, 0x9b};
    branch(rejectWhen[program.op[i]], fail);
    branch(0xa7, succ);
  }

  private static boolean lessAccepted(int acceptBits) {
    return (acceptBits & 1) != 0;
  }

  private static boolean canBeMissing(int kind) {
    return kind == FastPath.FRAGMENT
        || kind == FastPath.TCP_PAYLOAD_LENGTH
        || kind == FastPath.UDP_PAYLOAD_LENGTH
        || kind >= FastPath.PACKET_WORD;
  }

  /** Pushes the value of a {@link Values} field as a long. */
  private void value(int kind, int index, int size) {
    String ctx = "(L" + CONTEXT + ";)J";
    String lay = "(L" + LAYOUT + ";)J";
    String word = "(L" + BUFFER + ";L" + LAYOUT + ";II)J";
    switch (kind) {
      case FastPath.INBOUND -> contextValue("inbound", ctx);
      case FastPath.OUTBOUND -> contextValue("outbound", ctx);
      case FastPath.LOOPBACK -> contextValue("loopback", ctx);
      case FastPath.IF_IDX -> contextValue("ifIdx", ctx);
      case FastPath.LENGTH -> layoutValue("length", lay);
      case FastPath.FRAGMENT -> layoutValue("fragment", lay);
      case FastPath.IP -> layoutValue("ip", lay);
      case FastPath.IPV6 -> layoutValue("ipv6", lay);
      case FastPath.ICMP -> layoutValue("icmp", lay);
      case FastPath.ICMPV6 -> layoutValue("icmpv6", lay);
      case FastPath.TCP -> layoutValue("tcp", lay);
      case FastPath.UDP -> layoutValue("udp", lay);
      case FastPath.TCP_PAYLOAD_LENGTH -> layoutValue("tcpPayloadLength", lay);
      case FastPath.UDP_PAYLOAD_LENGTH -> layoutValue("udpPayloadLength", lay);
      default -> {
        aload(B);
        aload(L);
        pushInt(index);
        pushInt(size);
        String name =
            kind == FastPath.PACKET_WORD
                ? "packetWord"
                : kind == FastPath.TCP_WORD ? "tcpWord" : "udpWord";
        invokestatic(VALUES, name, word);
      }
    }
  }

  private void contextValue(String name, String descriptor) {
    aload(C);
    invokestatic(VALUES, name, descriptor);
  }

  private void layoutValue(String name, String descriptor) {
    aload(L);
    invokestatic(VALUES, name, descriptor);
  }

  // ------------------------------------------------------------------ stack map frames

  /** Label offsets in order, without repeats: each gets a frame. */
  private int[] frameOffsets() {
    return Arrays.stream(labels).distinct().sorted().toArray();
  }

  private int frameCount() {
    return frameOffsets().length;
  }

  /**
   * One full frame at the first label, then same-locals frames: every label has the same locals
   * (the prologue set them all) and an empty stack.
   */
  private byte[] frames() {
    ByteArrayOutputStream f = new ByteArrayOutputStream();
    int[] offsets = frameOffsets();
    int previous = -1;
    for (int k = 0; k < offsets.length; k++) {
      int delta = k == 0 ? offsets[0] : offsets[k] - previous - 1;
      previous = offsets[k];
      if (k == 0) {
        f.write(255); // full_frame
        f.write(delta >> 8);
        f.write(delta);
        int[] classes = {
          cf.classRef(NAME),
          cf.classRef(PROGRAM),
          cf.classRef(BUFFER),
          cf.classRef(LAYOUT),
          cf.classRef(CONTEXT),
          cf.classRef("[I")
        };
        f.write(0);
        f.write(classes.length + 2);
        for (int c : classes) {
          f.write(7); // Object_variable_info
          f.write(c >> 8);
          f.write(c);
        }
        f.write(4); // Long_variable_info: locals 6 and 7
        f.write(1); // Integer_variable_info: local 8
        f.write(0);
        f.write(0); // empty stack
      } else if (delta < 64) {
        f.write(delta); // same_frame
      } else {
        f.write(251); // same_frame_extended
        f.write(delta >> 8);
        f.write(delta);
      }
    }
    return f.toByteArray();
  }

  // ------------------------------------------------------------------ code

  private void u1(int b) {
    code.write(b);
  }

  private void u2(int v) {
    code.write(v >> 8);
    code.write(v);
  }

  private void aload(int local) {
    u1(0x19);
    u1(local);
  }

  private void invokestatic(String owner, String name, String descriptor) {
    u1(0xb8);
    u2(cf.method(owner, name, descriptor));
  }

  private void pushInt(int v) {
    if (v >= -1 && v <= 5) {
      u1(0x03 + v);
    } else if (v >= Byte.MIN_VALUE && v <= Byte.MAX_VALUE) {
      u1(0x10);
      u1(v);
    } else if (v >= Short.MIN_VALUE && v <= Short.MAX_VALUE) {
      u1(0x11);
      u2(v);
    } else {
      u1(0x13); // ldc_w
      u2(cf.intConstant(v));
    }
  }

  private void pushLong(long v) {
    if (v == 0 || v == 1) {
      u1(0x09 + (int) v); // lconst_0, lconst_1
    } else {
      u1(0x14); // ldc2_w
      u2(cf.longConstant(v));
    }
  }

  /** A branch to a test or a verdict ({@code Program.ACCEPT}, {@code Program.REJECT}). */
  private void branch(int opcode, int target) {
    int label = target >= 0 ? target : target == Program.ACCEPT ? program.n : program.n + 1;
    int at = code.size();
    u1(opcode);
    if (fixupCount == fixupTargets.length) {
      fixups = Arrays.copyOf(fixups, fixups.length * 2);
      fixupTargets = Arrays.copyOf(fixupTargets, fixupTargets.length * 2);
    }
    fixups[2 * fixupCount] = at + 1;
    fixups[2 * fixupCount + 1] = at;
    fixupTargets[fixupCount++] = label;
    u2(0);
  }
}
