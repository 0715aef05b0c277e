module runcprobe

go 1.22
