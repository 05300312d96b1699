# The busybox session (tools/session-test): typed into an interactive busybox sh on the
# serial console of Debian's Linux 6.1 and of Tessera; the two outputs must be the same.
#
# Each section is ONE input line, `b NAME; COMMANDS; e`: b and e print the markers the
# runner cuts the output at, e adds the exit status. Whatever lies outside the markers (the
# prompt, the echo of the input, job notices, kernel messages) is ignored. The runner types
# a section's line only after the previous section has ended, so:
#  - a section is one line (the echo of a second line would land inside the section);
#  - at most 70 characters a line (the line editor redraws longer ones; the runner
#    drops comment lines before sending);
#  - no command reads the shell's stdin (it would swallow the lines that follow);
#  - only what the runner normalizes may vary (times, dates; print no pids);
#  - leave the tty's echo on: after `stty -echo` busybox's line editor reads the shell's
#    input with stdio, and applets forked from the shell inherit that read-ahead buffer.
# Sections list files by name rather than `ls -la /`: directory sizes and link counts
# are the file system's business (tmpfs, procfs, devtmpfs on Linux), not the ABI's.
b() { printf '@@%s %s\n' begin "$1"; }
e() { printf '@@%s %s\n' end "$?"; }
b root; ls -a /; e
b ls-l; ls -l /etc/passwd /etc/group /bin/busybox /bin/sh; e
b ls-usr; ls -l /usr/bin/awk /sbin/poweroff; e
b ls-dev; ls -l /dev/null /dev/zero; e
b applets; ls /bin | head -4; ls /usr/bin | wc -l; e
b uname; uname -s -m; id; pwd; e
b write; echo hi > /tmp/f && cat /tmp/f; e
b append; echo there >> /tmp/f; cat /tmp/f; wc -c < /tmp/f; e
b meminfo; head -3 /proc/meminfo | cut -d: -f1; e
b pipe; printf 'b\na\nc\n' | sort | tr a-z A-Z; e
b stderr; ls /nonexistent 2>/tmp/err; echo $?; cat /tmp/err; e
b sigpipe; yes | head -3; e
b find; find / -xdev -name init; e
b find-p; find /bin /etc -name 'p*' | sort; e
b ps; ps | head -1; e
b ps-o; ps -o pid,comm | awk "\$1==$$ {print \$2}"; e
b kill; sh -c 'sleep 9 & kill $!; wait $! 2>/dev/null; echo $?'; e
b wait; sleep 1 & wait; echo $?; e
b exit; sh -c 'exit 3'; echo $?; e
b trap; sh -c 'trap "echo USR1" USR1; kill -USR1 $$; echo after'; e
b subshell; (cd /tmp && pwd); pwd; echo $((6 * 7)); e
b sort; printf '10\n9\n100\n' | sort -n -r; e
b sed; echo hello world | sed 's/world/there/; s/^h/H/'; e
b awk; seq 1 100 | awk '{ s += $1 } END { print s, NR }'; e
b grep; grep -r root /etc | sort; grep -c x /etc/passwd; e
b seq; seq 1 10000 | wc -l; e
b dd; dd if=/dev/zero of=/tmp/z bs=1M count=8 2>&1 | sed 's/, .*//'; e
b md5sum; md5sum /tmp/z; ls -l /tmp/z; e
b files; mkdir -p /tmp/d/e; cp /tmp/f /tmp/d/e/g; ls -R /tmp/d; e
b mv-rm; mv /tmp/d/e/g /tmp/d/h; rm -r /tmp/d/e; ls /tmp/d; e
b symlink; ln -s /tmp/f /tmp/l; readlink /tmp/l; cat /tmp/l; e
b gzip; gzip -c /tmp/f | gunzip | md5sum; e
b tar; tar -cf /tmp/t.tar -C /etc passwd group; tar -tf /tmp/t.tar; e
b xargs; echo a b c | xargs -n 1 echo x; e
b ttin; cat & sleep 1; jobs; kill -9 %1; sleep 1; jobs; e
b ttou; stty tostop; echo o & sleep 1; jobs; e
b ttou-kill; kill -9 %1; sleep 1; jobs; stty -tostop; e
b tostop-off; echo out & sleep 1; wait; e
b bigfile; md5sum /bin/busybox; wc -c < /bin/busybox; e
exit
