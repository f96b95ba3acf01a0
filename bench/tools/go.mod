module docshift/bench/tools

go 1.25.11

require github.com/mongodb/mongo-tools v0.0.0-20260702221138-e4f25276abe9
