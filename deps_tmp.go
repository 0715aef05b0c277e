package main
import (
 _ "github.com/nats-io/nats-server/v2/server"
 _ "github.com/nats-io/nats.go"
 _ "modernc.org/sqlite"
 _ "github.com/jackc/pgx/v5/stdlib"
 _ "github.com/golang-jwt/jwt/v5"
 _ "golang.org/x/crypto/bcrypt"
 _ "github.com/spf13/cobra"
 _ "gopkg.in/yaml.v3"
 _ "github.com/google/uuid"
 _ "github.com/coder/websocket"
 _ "github.com/schollz/progressbar/v3"
)
func main(){}
