module goclean

go 1.19
