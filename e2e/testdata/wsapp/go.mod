module wsapp

go 1.22
