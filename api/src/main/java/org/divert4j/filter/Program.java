package org.divert4j.filter;

import java.nio.ByteBuffer;
import org.divert4j.filter.Node.FieldRef;
import org.divert4j.filter.Node.Literal;
import org.divert4j.filter.Node.Operand;

/**
 * A filter flattened into tests with jump targets, as WinDivert's compiler does: {@code and},
 * {@code or}, {@code not} and {@code ? :} become the success and failure targets of the tests, so
 * evaluation is one loop without recursion or allocation. Every jump goes to a lower index or to a
 * verdict, so the loop runs at most once per test.
 */
final class Program {
  static final int ACCEPT = -1;
  static final int REJECT = -2;
  static final long MISSING = Long.MIN_VALUE;

  static final int EQ = 0;
  static final int NE = 1;
  static final int LT = 2;
  static final int LE = 3;
  static final int GT = 4;
  static final int GE = 5;

  final int n;
  final int start;
  final int[] op;
  final int[] succ;
  final int[] fail;
  final long[] maskHi;
  final long[] maskLo;
  // left and right operands: a field (non-null) with its index, or a literal
  final Field[] lField;
  final int[] lIndex;
  final boolean[] lNeg;
  final long[] lHi;
  final long[] lLo;
  final Field[] rField;
  final int[] rIndex;
  final boolean[] rNeg;
  final long[] rHi;
  final long[] rLo;

  /** Tests of a field against a literal of 0 or more, the most common kind, without a switch. */
  private final FastPath fast;

  /** False when no test needs a header, so that evaluation skips finding them. */
  private final boolean needsLayout;

  /** The same program as bytecode, or null where the loop below runs it (FilterCompiler). */
  private final Compiled compiled;

  private int size;

  private Program(int capacity, Node root) {
    op = new int[capacity];
    succ = new int[capacity];
    fail = new int[capacity];
    maskHi = new long[capacity];
    maskLo = new long[capacity];
    lField = new Field[capacity];
    lIndex = new int[capacity];
    lNeg = new boolean[capacity];
    lHi = new long[capacity];
    lLo = new long[capacity];
    rField = new Field[capacity];
    rIndex = new int[capacity];
    rNeg = new boolean[capacity];
    rHi = new long[capacity];
    rLo = new long[capacity];
    fast = new FastPath(capacity);
    start = flatten(root, ACCEPT, REJECT);
    n = size;
    boolean layout = false;
    for (int i = 0; i < n; i++) {
      for (Field f : new Field[] {lField[i], rField[i]}) {
        layout |= f != null && !Loads.needsNoLayout(f);
      }
    }
    needsLayout = layout;
    compiled = FilterCompiler.compile(this, fast);
  }

  static Program compile(Node root) {
    return new Program(count(root), root);
  }

  /** Number of tests left after constant folding. */
  int tests() {
    return n;
  }

  /** Verdict when the program has no test: the filter is constant. */
  boolean constant() {
    return start < 0;
  }

  private static int count(Node node) {
    if (node instanceof Node.Not x) {
      return count(x.operand());
    } else if (node instanceof Node.And a) {
      return count(a.left()) + count(a.right());
    } else if (node instanceof Node.Or o) {
      return count(o.left()) + count(o.right());
    } else if (node instanceof Node.If i) {
      return count(i.condition()) + count(i.then()) + count(i.otherwise());
    }
    return 1;
  }

  private int flatten(Node node, int ok, int no) {
    Boolean known = constantValue(node);
    if (known != null) {
      return known ? ok : no;
    }
    if (node instanceof Node.If i) {
      Boolean c = constantValue(i.condition());
      if (c != null) {
        return flatten(c ? i.then() : i.otherwise(), ok, no);
      }
    }
    if (node instanceof Node.Not x) {
      return flatten(x.operand(), no, ok);
    } else if (node instanceof Node.And a) {
      return flatten(a.left(), flatten(a.right(), ok, no), no);
    } else if (node instanceof Node.Or o) {
      return flatten(o.left(), ok, flatten(o.right(), ok, no));
    } else if (node instanceof Node.If i) {
      int otherwise = flatten(i.otherwise(), ok, no);
      int then = flatten(i.then(), ok, no);
      return flatten(i.condition(), then, otherwise);
    }
    return emit((Node.Test) node, ok, no);
  }

  /**
   * @return the value of a node that does not depend on the packet, or null
   */
  private static Boolean constantValue(Node node) {
    if (node instanceof Node.Not x) {
      Boolean v = constantValue(x.operand());
      return v == null ? null : !v;
    } else if (node instanceof Node.And a) {
      Boolean l = constantValue(a.left());
      Boolean r = constantValue(a.right());
      if (Boolean.FALSE.equals(l) || Boolean.FALSE.equals(r)) {
        return false;
      }
      return l != null && r != null ? Boolean.TRUE : null;
    } else if (node instanceof Node.Or o) {
      Boolean l = constantValue(o.left());
      Boolean r = constantValue(o.right());
      if (Boolean.TRUE.equals(l) || Boolean.TRUE.equals(r)) {
        return true;
      }
      return l != null && r != null ? Boolean.FALSE : null;
    } else if (node instanceof Node.If i) {
      Boolean c = constantValue(i.condition());
      if (c != null) {
        return constantValue(c ? i.then() : i.otherwise());
      }
      Boolean t = constantValue(i.then());
      return t != null && t.equals(constantValue(i.otherwise())) ? t : null;
    }
    Node.Test t = (Node.Test) node;
    Operand left = constant(t.left());
    Operand right = t.op() == null ? Literal.number(0) : constant(t.right());
    if (left instanceof Literal a && right instanceof Literal b) {
      long mh = a.maskHi() & b.maskHi();
      long ml = a.maskLo() & b.maskLo();
      int o = t.op() == null ? NE : t.op().ordinal();
      return compare(
          o, a.negative(), a.hi() & mh, a.lo() & ml, b.negative(), b.hi() & mh, b.lo() & ml);
    }
    return null;
  }

  private int emit(Node.Test t, int ok, int no) {
    Operand left = constant(t.left());
    Operand right = t.op() == null ? Literal.number(0) : constant(t.right());
    int o = t.op() == null ? NE : t.op().ordinal();
    long mh = -1;
    long ml = -1;
    for (Operand x : new Operand[] {left, right}) {
      if (x instanceof Literal l) {
        mh &= l.maskHi();
        ml &= l.maskLo();
      }
    }
    if (left instanceof Literal a && right instanceof Literal b) {
      return compare(
              o, a.negative(), a.hi() & mh, a.lo() & ml, b.negative(), b.hi() & mh, b.lo() & ml)
          ? ok
          : no;
    }
    int i = size++;
    op[i] = o;
    succ[i] = ok;
    fail[i] = no;
    maskHi[i] = mh;
    maskLo[i] = ml;
    if (left instanceof FieldRef f) {
      lField[i] = f.field();
      lIndex[i] = f.index();
    } else {
      Literal l = (Literal) left;
      lNeg[i] = l.negative();
      lHi[i] = l.hi() & mh;
      lLo[i] = l.lo() & ml;
    }
    if (right instanceof FieldRef f) {
      rField[i] = f.field();
      rIndex[i] = f.index();
    } else {
      Literal l = (Literal) right;
      rNeg[i] = l.negative();
      rHi[i] = l.hi() & mh;
      rLo[i] = l.lo() & ml;
    }
    fast.plan(this, i);
    return i;
  }

  /** {@code zero}, {@code true} and {@code false} are constants, folded at compile time. */
  private static Operand constant(Operand x) {
    if (x instanceof FieldRef f) {
      switch (f.field()) {
        case ZERO, FALSE -> {
          return Literal.number(0);
        }
        case TRUE -> {
          return Literal.number(1);
        }
        default -> {
          return x;
        }
      }
    }
    return x;
  }

  boolean matches(ByteBuffer b, FilterContext c) {
    if (start < 0) {
      return start == ACCEPT;
    }
    Layout p = read(b, c);
    Compiled k = compiled;
    return k != null ? k.matches(this, b, p, c) : loop(b, p, c);
  }

  /** {@link #matches} through the interpreter loop even when compiled: the compiler's reference. */
  boolean matchesInterpreted(ByteBuffer b, FilterContext c) {
    return start < 0 ? start == ACCEPT : loop(b, read(b, c), c);
  }

  /** The verdict of test {@code i} as the fast path gives it; called by compiled programs. */
  boolean fastTest(int i, ByteBuffer b, Layout l, FilterContext c) {
    return fast.test(this, i, b, l, c);
  }

  /** The planned tests, for FilterCompiler's tests. */
  FastPath plan() {
    return fast;
  }

  /**
   * @return whether this program runs as bytecode ({@link FilterCompiler})
   */
  boolean isCompiled() {
    return compiled != null;
  }

  private Layout read(ByteBuffer b, FilterContext c) {
    Layout p = c.layout;
    if (needsLayout) {
      p.read(b);
    } else {
      p.bounds(b);
    }
    return p;
  }

  private boolean loop(ByteBuffer b, Layout p, FilterContext c) {
    int pc = start;
    while (pc >= 0) {
      pc = fast.test(this, pc, b, p, c) ? succ[pc] : fail[pc];
    }
    return pc == ACCEPT;
  }

  /**
   * {@link #matches} without {@link FastPath}: every test through {@link #test}, with the whole
   * layout read. The reference the fast path is checked against (FilterPropertyTest).
   */
  boolean matchesWithoutFastPath(ByteBuffer b, FilterContext c) {
    int pc = start;
    if (pc < 0) {
      return pc == ACCEPT;
    }
    Layout p = c.layout;
    p.read(b);
    while (pc >= 0) {
      pc = test(pc, b, p, c) ? succ[pc] : fail[pc];
    }
    return pc == ACCEPT;
  }

  boolean test(int i, ByteBuffer b, Layout p, FilterContext c) {
    boolean ln;
    long lh;
    long ll;
    Field f = lField[i];
    if (f != null) {
      ll = Values.value(f, lIndex[i], b, p, c);
      if (ll == MISSING) {
        return false;
      }
      ln = false;
      lh = f.address() ? Values.addressHi(f, b, p) & maskHi[i] : 0;
      ll &= maskLo[i];
    } else {
      ln = lNeg[i];
      lh = lHi[i];
      ll = lLo[i];
    }
    boolean rn;
    long rh;
    long rl;
    f = rField[i];
    if (f != null) {
      rl = Values.value(f, rIndex[i], b, p, c);
      if (rl == MISSING) {
        return false;
      }
      rn = false;
      rh = f.address() ? Values.addressHi(f, b, p) & maskHi[i] : 0;
      rl &= maskLo[i];
    } else {
      rn = rNeg[i];
      rh = rHi[i];
      rl = rLo[i];
    }
    return compare(op[i], ln, lh, ll, rn, rh, rl);
  }

  static boolean compare(int op, boolean ln, long lh, long ll, boolean rn, long rh, long rl) {
    int r;
    if (ln != rn) {
      r = ln ? -1 : 1;
    } else {
      r = Long.compareUnsigned(lh, rh);
      if (r == 0) {
        r = Long.compareUnsigned(ll, rl);
      }
      if (ln) {
        r = -r;
      }
    }
    return switch (op) {
      case EQ -> r == 0;
      case NE -> r != 0;
      case LT -> r < 0;
      case LE -> r <= 0;
      case GT -> r > 0;
      default -> r >= 0;
    };
  }
}
