package httpcodec

//go:generate go run tables_gen.go
