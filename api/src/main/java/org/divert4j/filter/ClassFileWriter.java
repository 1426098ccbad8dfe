package org.divert4j.filter;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;

/**
 * The few parts of a class file (JVMS chapter 4) that {@link FilterCompiler} needs: a constant pool
 * with de-duplicated entries, and a class of two methods, a no-argument constructor and one method
 * given as code with its stack map frames. Knows nothing about filters.
 */
final class ClassFileWriter {
  private final ByteArrayOutputStream pool = new ByteArrayOutputStream();
  private final DataOutputStream out = new DataOutputStream(pool);
  private final Map<String, Integer> entries = new HashMap<>();
  private int count = 1;

  int utf8(String s) {
    return entry("U" + s, 1, d -> d.writeUTF(s), 1);
  }

  int classRef(String internalName) {
    int n = utf8(internalName);
    return entry("C" + internalName, 7, d -> d.writeShort(n), 1);
  }

  int longConstant(long v) {
    return entry("J" + v, 5, d -> d.writeLong(v), 2);
  }

  int intConstant(int v) {
    return entry("I" + v, 3, d -> d.writeInt(v), 1);
  }

  int field(String owner, String name, String descriptor) {
    return member(9, owner, name, descriptor);
  }

  int method(String owner, String name, String descriptor) {
    return member(10, owner, name, descriptor);
  }

  private int member(int tag, String owner, String name, String descriptor) {
    int c = classRef(owner);
    int n = utf8(name);
    int t = utf8(descriptor);
    int nt = entry("N" + name + ":" + descriptor, 12, d -> d.writeInt(n << 16 | t), 1);
    return entry(tag + owner + "." + name + descriptor, tag, d -> d.writeInt(c << 16 | nt), 1);
  }

  private interface Body {
    void write(DataOutputStream d) throws IOException;
  }

  private int entry(String key, int tag, Body body, int slots) {
    Integer known = entries.get(key);
    if (known != null) {
      return known;
    }
    try {
      out.writeByte(tag);
      body.write(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    int index = count;
    count += slots;
    entries.put(key, index);
    return index;
  }

  /**
   * The class file of a final class with a public no-argument constructor and one public method.
   *
   * @param name its internal name
   * @param iface the internal name of the one interface it implements
   * @param method the method's name
   * @param descriptor its descriptor
   * @param code its code
   * @param maxStack its operand stack depth
   * @param maxLocals its local variable slots
   * @param frames its StackMapTable entries, already encoded
   * @param frameCount how many entries {@code frames} holds
   * @return the class file
   */
  byte[] build(
      String name,
      String iface,
      String method,
      String descriptor,
      byte[] code,
      int maxStack,
      int maxLocals,
      byte[] frames,
      int frameCount) {
    int self = classRef(name);
    int object = classRef("java/lang/Object");
    int implemented = classRef(iface);
    int init = utf8("<init>");
    int voidDesc = utf8("()V");
    int objectInit = method("java/lang/Object", "<init>", "()V");
    int codeName = utf8("Code");
    int frameName = utf8("StackMapTable");
    int methodName = utf8(method);
    int methodDesc = utf8(descriptor);
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      DataOutputStream d = new DataOutputStream(bytes);
      d.writeInt(0xCAFEBABE);
      d.writeShort(0);
      d.writeShort(61); // Java 17: stack map frames are required, and given
      d.writeShort(count);
      d.write(pool.toByteArray());
      d.writeShort(0x0001 | 0x0010 | 0x0020); // public final super
      d.writeShort(self);
      d.writeShort(object);
      d.writeShort(1);
      d.writeShort(implemented);
      d.writeShort(0); // fields
      d.writeShort(2); // methods
      // public <init>() { super(); }
      d.writeShort(0x0001);
      d.writeShort(init);
      d.writeShort(voidDesc);
      d.writeShort(1);
      d.writeShort(codeName);
      d.writeInt(12 + 5);
      d.writeShort(1);
      d.writeShort(1);
      d.writeInt(5);
      d.writeByte(0x2a); // aload_0
      d.writeByte(0xb7); // invokespecial
      d.writeShort(objectInit);
      d.writeByte(0xb1); // return
      d.writeShort(0);
      d.writeShort(0);
      // the method
      d.writeShort(0x0001 | 0x0010);
      d.writeShort(methodName);
      d.writeShort(methodDesc);
      d.writeShort(1);
      d.writeShort(codeName);
      int frameAttribute = frameCount == 0 ? 0 : 6 + 2 + frames.length;
      d.writeInt(12 + code.length + frameAttribute);
      d.writeShort(maxStack);
      d.writeShort(maxLocals);
      d.writeInt(code.length);
      d.write(code);
      d.writeShort(0); // exception table
      if (frameCount == 0) {
        d.writeShort(0);
      } else {
        d.writeShort(1);
        d.writeShort(frameName);
        d.writeInt(2 + frames.length);
        d.writeShort(frameCount);
        d.write(frames);
      }
      d.writeShort(0); // class attributes
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
