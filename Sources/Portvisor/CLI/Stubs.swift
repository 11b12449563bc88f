enum StatusCommand { static func run(_ parsed: ParsedArguments) -> Int32 { 70 } }
enum ConnectCommand { static func run(_ parsed: ParsedArguments) -> Int32 { 70 } }
