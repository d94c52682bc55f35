package httpcodec

// Error is a malformed request. Status is the response code to send before
// closing the connection; Reason is a fixed phrase chosen by the parser and
// never contains bytes from the client, so it is safe to log and to echo.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return "httpcodec: " + e.Reason }

// The parser returns only these values, so a failing Parse allocates nothing
// and callers may compare by pointer in tests.
var (
	errMethod           = &Error{400, "bad method"}
	errTarget           = &Error{400, "bad request target"}
	errVersion          = &Error{400, "bad HTTP version"}
	errVersionNotSup    = &Error{505, "HTTP version not supported"}
	errLineEnding       = &Error{400, "line not ended by CRLF"}
	errRequestLineLong  = &Error{414, "request line too long"}
	errHeadTooLarge     = &Error{431, "request head too large"}
	errTooManyHeaders   = &Error{431, "too many header fields"}
	errFieldName        = &Error{400, "bad header field name"}
	errSpaceBeforeColon = &Error{400, "whitespace before colon"}
	errFieldValue       = &Error{400, "bad header field value"}
	errObsFold          = &Error{400, "obsolete line folding"}
	errHostMissing      = &Error{400, "missing Host header"}
	errHostRepeated     = &Error{400, "repeated Host header"}
	errHostValue        = &Error{400, "bad Host header"}
	errContentLength    = &Error{400, "bad Content-Length"}
	errCLRepeated       = &Error{400, "repeated Content-Length"}
	errCLAndTE          = &Error{400, "both Content-Length and Transfer-Encoding"}
	errTEOn10           = &Error{400, "Transfer-Encoding on HTTP/1.0"}
	errTEChunkedNotLast = &Error{400, "chunked is not the final transfer coding"}
	errTEChunkedTwice   = &Error{400, "chunked applied twice"}
	errTEBad            = &Error{400, "bad Transfer-Encoding"}
	errTEUnsupported    = &Error{501, "unsupported transfer coding"}
	errBodyTooLarge     = &Error{413, "request body too large"}
	errChunkSize        = &Error{400, "bad chunk size"}
	errChunkExt         = &Error{400, "bad chunk extension"}
	errChunkLineLong    = &Error{400, "chunk line too long"}
	errChunkData        = &Error{400, "chunk data not followed by CRLF"}
	errChunkOverhead    = &Error{400, "too much chunk framing"}
	errTrailer          = &Error{400, "bad trailer field"}
	errEscape           = &Error{400, "bad percent-encoding"}
)
