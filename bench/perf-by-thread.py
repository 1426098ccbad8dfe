#!/usr/bin/env python3
"""CPU per packet of one thread of a `perf record -a -g` profile, split by where it goes.

Usage: perf script -i perf.data --comm NAME -F comm,pid,tid,ip,sym,dso > s.txt
       bench/perf-by-thread.py s.txt NAME [PID|-] [PACKETS] [ROWS]
NAME is the thread's name as perf shows it (15 characters: bench-reflector, bench-tcp-refle,
nfq_one); PID picks one process when several had that name (e.g. the two nfq_one modes);
PACKETS is how many packets the thread handled in the recording. Samples are taken as
1/999 s of CPU each (perf record -F 999). Kernel samples are grouped by what the call chain
passes through (waking the receiving program, rule evaluation, the rest of the verdict,
receive); user samples by leaf symbol (JIT-compiled methods named from the JVM's perf map,
so run the JVM with -XX:+PreserveFramePointer -XX:+UnlockDiagnosticVMOptions
-XX:+DumpPerfMapAtExit). bench/profile-kernel.sh records such a profile.
"""
import sys, re, collections
path, comm = sys.argv[1], sys.argv[2]; pid = sys.argv[3] if len(sys.argv)>3 and sys.argv[3] != '-' else None
npk = float(sys.argv[4]) if len(sys.argv)>4 else 220000
samples=[]; cur=None
for line in open(path, errors='replace'):
    if not line.strip():
        if cur: samples.append(cur); cur=None
        continue
    if not line[0].isspace():
        if cur: samples.append(cur)
        p=line.split(); cur={'comm':p[0],'pid':p[1],'frames':[]}
    else:
        m=re.match(r'\s*[0-9a-f]+\s+(.*)\s+\((.*)\)\s*$', line)
        if m and cur: cur['frames'].append((m.group(1).strip(), m.group(2)))
if cur: samples.append(cur)
S=[s for s in samples if s['comm']==comm and (pid is None or s['pid'].startswith(pid+'/'))]
ns = 1e9/999/npk  # ns per packet per sample
c=collections.Counter(); tot=collections.Counter()
for s in S:
    fr=s['frames']
    if not fr: continue
    names=[f for f,_ in fr]
    leaf,dso=fr[0]
    if 'kallsyms' in dso:
        if 'sock_def_readable' in names: k='kernel verdict: waking the receiving program (sock_def_readable)'
        elif any(f.startswith('nft_do_chain') for f in names): k='kernel verdict: rule evaluation (nft_do_chain)'
        elif 'netlink_sendmsg' in names or 'nfqnl_recv_verdict' in names: k='kernel verdict: rest (netlink, reinject, IP/UDP input)'
        elif 'netlink_recvmsg' in names or any('recvmmsg' in f or 'recvfrom' in f or 'recvmsg' in f for f in names): k='kernel receive (netlink_recvmsg and syscall)'
        elif any(f.startswith('__x64_sys_') or f in ('do_syscall_64','x64_sys_call','entry_SYSCALL_64_after_hwframe') for f in names) and not any(f in ('schedule','finish_task_switch.isra.0') for f in names): k='kernel: syscall entry/exit'
        else: k='kernel other: '+leaf
        tot['kernel']+=1
    else:
        tot['user']+=1
        if 'perf-' in dso: k='java '+re.sub(r'\(.*','',leaf).split(' ')[-1]
        else: k='native '+dso.split('/')[-1]+' '+leaf
    c[k]+=1
n=len(S)
print(f'{comm} {pid}: {n} samples = {n*ns/1000:.2f} us CPU per packet ({npk:.0f} packets)')
for k,v in tot.most_common(): print(f'  {k}: {v} samples, {v*ns/1000:.2f} us/packet, {100*v/n:.1f}%')
for k,v in c.most_common(int(sys.argv[5]) if len(sys.argv)>5 else 30): print(f'{v:6d} {100*v/n:5.1f}% {v*ns:7.0f} ns/pkt  {k[:110]}')
