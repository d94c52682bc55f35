package httpcodec

// Typical requests for allocation tests and benchmarks: a browser opening
// a stream and a back-end publishing a 64-byte message.
const (
	subscribeRequest = "GET /sub?topic=news&user=42 HTTP/1.1\r\n" +
		"Host: push.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36\r\n" +
		"Accept: text/event-stream\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\n" +
		"Accept-Language: en-US,en;q=0.9\r\n" +
		"Cache-Control: no-cache\r\n" +
		"Connection: keep-alive\r\n" +
		"Origin: https://www.example.com\r\n" +
		"Referer: https://www.example.com/app\r\n" +
		"Cookie: sid=4f2a9c1e7b3d; theme=dark\r\n" +
		"\r\n"
	publishRequest = "POST /pub/topic/news HTTP/1.1\r\n" +
		"Host: 127.0.0.1:8081\r\n" +
		"User-Agent: pushwire-client/1.0\r\n" +
		"Content-Type: application/json\r\n" +
		"Content-Length: 64\r\n" +
		"\r\n" +
		`{"title":"breaking","body":"markets up 2%","ts":1700000000000}` + "\n\n"
	publishChunked = "POST /pub/topic/news HTTP/1.1\r\n" +
		"Host: 127.0.0.1:8081\r\n" +
		"Transfer-Encoding: chunked\r\n" +
		"\r\n" +
		"20\r\n" + `{"title":"breaking","body":"mark` + "\r\n" +
		"20\r\n" + `ets up 2%","ts":1700000000000}` + "\n\n\r\n" +
		"0\r\n\r\n"
)
