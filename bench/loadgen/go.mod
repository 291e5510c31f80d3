module vaultinject/bench/loadgen

go 1.19
